-- One row per golden customer: what it bought, what it owes, what is in the pipeline, where it is known and who
-- follows it. Trailing-12-month revenue counts orders in the 12 months up to as_of_date, the last order date
-- in the warehouse (so a historical load still shows a meaningful window). Outstanding receivables are, per
-- source system that bills the customer, its receivables minus the payments that system recorded. Money is in the
-- reporting currency; revenue counts the orders whose status class counts as revenue.
--
-- The `changed:` comments after TRUE: where a refresh narrows the inputs to the changed golden customers
-- (pipelines/mart_refresh.py). The names contacts write are the mart's as a whole: a refresh follows them
-- (pipelines/mart_states.py).
WITH as_of AS (
    SELECT MAX(order_date) AS as_of_date FROM marts.fct_sales_orders WHERE is_revenue
),
orders AS (
    SELECT
        o.golden_id,
        COUNT(*) AS orders,
        SUM(o.reporting_amount) AS lifetime_revenue,
        SUM(CASE WHEN o.order_date > CAST(a.as_of_date - INTERVAL '12 months' AS DATE) THEN o.reporting_amount
                 ELSE 0 END) AS revenue_12m,
        MIN(o.order_date) AS first_order_date,
        MAX(o.order_date) AS last_order_date
    FROM marts.fct_sales_orders o
    CROSS JOIN as_of a
    WHERE o.golden_id IS NOT NULL AND o.is_revenue AND TRUE /* changed: o.golden_id */
    GROUP BY o.golden_id
),
payments AS (
    SELECT golden_id, source_name, SUM(reporting_amount) AS paid
    FROM marts.fct_payments
    WHERE golden_id IS NOT NULL AND TRUE /* changed: golden_id */
    GROUP BY golden_id, source_name
),
setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
receivables AS (
    SELECT x.golden_id, r.source_name, SUM(CAST(r.amount AS DECIMAL(38, 2)) * fx.rate) AS billed
    FROM staging.receivable r
    CROSS JOIN setting s
    JOIN mdm.xref x
        ON x.source_name = r.source_name AND x.stream = r.customer_stream AND x.source_key = r.customer_key
    LEFT JOIN marts.dim_fx_rate fx
        ON fx.currency = COALESCE(UPPER(TRIM(r.currency)), s.reporting_currency)
       AND fx.month = CAST(date_trunc('month', CAST(r.bill_date AS TIMESTAMP)) AS DATE)
    WHERE TRUE /* changed: x.golden_id */
    GROUP BY x.golden_id, r.source_name
),
money AS (
    SELECT
        COALESCE(r.golden_id, p.golden_id) AS golden_id,
        SUM(p.paid) AS payments_total,
        SUM(r.billed) AS receivables_total,
        SUM(CASE WHEN r.billed IS NOT NULL THEN r.billed - COALESCE(p.paid, 0) END) AS outstanding_receivables
    FROM receivables r
    FULL OUTER JOIN payments p ON p.golden_id = r.golden_id AND p.source_name = r.source_name
    GROUP BY COALESCE(r.golden_id, p.golden_id)
),
pipeline AS (
    SELECT golden_id, COUNT(*) AS open_opportunities, SUM(reporting_amount) AS open_pipeline
    FROM marts.fct_opportunities
    WHERE outcome = 'open' AND golden_id IS NOT NULL AND TRUE /* changed: golden_id */
    GROUP BY golden_id
),
-- the company names contacts write that name one golden customer: its name or short name, and no other's (only
-- names some contact writes are looked up: the customers are many, the names few)
customer_name AS (
    SELECT n.name_norm, MIN(n.golden_id) AS golden_id
    FROM (
        SELECT REPLACE(TRIM(c.name), ' ', '') AS name_norm, x.golden_id
        FROM staging.customer c
        JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream AND x.source_key = c.source_key
        WHERE REPLACE(TRIM(c.name), ' ', '') IN (
            SELECT REPLACE(TRIM(customer_name), ' ', '') FROM staging.contact WHERE customer_name IS NOT NULL)
        UNION ALL
        SELECT REPLACE(TRIM(c.short_name), ' ', ''), x.golden_id
        FROM staging.customer c
        JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream AND x.source_key = c.source_key
        WHERE REPLACE(TRIM(c.short_name), ' ', '') IN (
            SELECT REPLACE(TRIM(customer_name), ' ', '') FROM staging.contact WHERE customer_name IS NOT NULL)
    ) n
    GROUP BY n.name_norm
    HAVING COUNT(DISTINCT n.golden_id) = 1
),
contact AS (
    SELECT
        COALESCE(x.golden_id, n.golden_id) AS golden_id,
        c.source_name,
        c.source_key,
        c.owner,
        COALESCE(r.name, c.owner) AS follower
    FROM staging.contact c
    LEFT JOIN mdm.xref x
        ON x.source_name = c.source_name AND x.stream = c.customer_stream AND x.source_key = c.customer_key
    LEFT JOIN customer_name n ON n.name_norm = REPLACE(TRIM(c.customer_name), ' ', '')
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = c.source_name AND b.rep_ref = c.owner
    LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id AND r.is_current
),
contacts AS (
    SELECT
        golden_id,
        COUNT(DISTINCT source_name || ':' || source_key) AS contacts,
        COUNT(DISTINCT follower) AS followers,
        string_agg(DISTINCT follower, ', ' ORDER BY follower) AS follower_names
    FROM contact
    WHERE golden_id IS NOT NULL AND TRUE /* changed: golden_id */
    GROUP BY golden_id
)
SELECT
    d.golden_id,
    d.name,
    d.uscc,
    d.city,
    d.parent_golden_id,
    d.systems,
    d.system_count,
    d.source_count AS source_records,
    COALESCE(o.orders, 0) AS orders,
    CAST(COALESCE(o.lifetime_revenue, 0) AS DECIMAL(18, 2)) AS lifetime_revenue,
    CAST(COALESCE(o.revenue_12m, 0) AS DECIMAL(18, 2)) AS revenue_12m,
    a.as_of_date,
    o.first_order_date,
    o.last_order_date,
    CAST(COALESCE(m.payments_total, 0) AS DECIMAL(18, 2)) AS payments_total,
    CAST(m.receivables_total AS DECIMAL(18, 2)) AS receivables_total,
    CAST(m.outstanding_receivables AS DECIMAL(18, 2)) AS outstanding_receivables,
    COALESCE(p.open_opportunities, 0) AS open_opportunities,
    CAST(COALESCE(p.open_pipeline, 0) AS DECIMAL(18, 2)) AS open_pipeline,
    COALESCE(c.contacts, 0) AS contacts,
    COALESCE(c.followers, 0) AS followers,
    c.follower_names
FROM marts.dim_customer d
CROSS JOIN as_of a
LEFT JOIN orders o ON o.golden_id = d.golden_id
LEFT JOIN money m ON m.golden_id = d.golden_id
LEFT JOIN pipeline p ON p.golden_id = d.golden_id
LEFT JOIN contacts c ON c.golden_id = d.golden_id
WHERE TRUE /* changed: d.golden_id */
