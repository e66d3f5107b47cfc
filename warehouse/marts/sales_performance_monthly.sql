-- Sales performance per month: one row per rep (level 'rep'), then the same measures rolled up per team
-- (level 'team') and per region (level 'region'). Money is in the reporting currency; revenue counts the orders
-- whose status class counts as revenue (fct_sales_orders.is_revenue).
--
-- Attribution: an order, payment or target goes to its rep, else to the rep owning the customer record on the
-- fact's date; activity without a known rep is the rep row whose rep_id is null. A rep's team and region are
-- those of the dim_sales_rep version valid on the fact's date (for the open pipeline, at the end of the month),
-- so a rep who changed team mid-month has a row for each team. A team's target is its own target from the
-- targets file when it has one for the month, else the sum of its reps' targets; a region's is the sum of its
-- reps' targets.
--
-- Rows exist for every month with activity or a target, and for every month up to the last month with facts in
-- which the rep still has open pipeline. Period columns (QTD, YTD of the fiscal year, trailing 12 months, prior
-- year) are the rep's, team's or region's as a whole, all its rows of a month together.
WITH setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
target AS (  -- in the reporting currency, at the rate of the target's month
    SELECT t.rep_key, t.team, t.source_name, t.month, CAST(t.amount AS DECIMAL(38, 2)) * fx.rate AS amount
    FROM (
        SELECT source_name, rep_key, team, amount, currency,
               CAST(date_trunc('month', CAST(month AS TIMESTAMP)) AS DATE) AS month
        FROM staging.target
    ) t
    CROSS JOIN setting s
    LEFT JOIN marts.dim_fx_rate fx
        ON fx.currency = COALESCE(UPPER(TRIM(t.currency)), s.reporting_currency) AND fx.month = t.month
),
fact_month AS (
    SELECT MAX(order_month) AS m FROM marts.fct_sales_orders
    UNION ALL SELECT MAX(payment_month) FROM marts.fct_payments
    UNION ALL SELECT MAX(created_month) FROM marts.fct_opportunities
    UNION ALL SELECT MAX(closed_month) FROM marts.fct_opportunities
),
as_of AS (
    SELECT MAX(m) AS as_of_month FROM fact_month
),
month_list AS (
    SELECT DISTINCT month_start AS month FROM marts.dim_date
),
-- what an opportunity adds to its rep's open pipeline: its amount from its creation month, until it is closed
pipeline_delta AS (
    SELECT COALESCE(rep_id, '') AS rep_ref, created_month AS month, SUM(reporting_amount) AS delta
    FROM marts.fct_opportunities
    GROUP BY COALESCE(rep_id, ''), created_month
    UNION ALL
    SELECT COALESCE(rep_id, ''), GREATEST(closed_month, created_month), -SUM(reporting_amount)
    FROM marts.fct_opportunities
    WHERE outcome <> 'open' AND closed_month IS NOT NULL
    GROUP BY COALESCE(rep_id, ''), GREATEST(closed_month, created_month)
),
first_order AS (  -- a customer is new in the month of its first revenue order, for the rep of that order
    SELECT
        COALESCE(rep_id, customer_owner_rep_id, '') AS rep_ref, order_date,
        ROW_NUMBER() OVER (PARTITION BY golden_id ORDER BY order_date, source_name, order_key) AS rn
    FROM marts.fct_sales_orders
    WHERE golden_id IS NOT NULL AND is_revenue
),
measure AS (
    SELECT COALESCE(rep_id, customer_owner_rep_id, '') AS rep_ref, order_date AS day, COUNT(*) AS orders,
           SUM(reporting_amount) AS revenue, CAST(NULL AS DECIMAL(18, 2)) AS payments,
           CAST(NULL AS DECIMAL(18, 2)) AS target, 0 AS new_customers, 0 AS won, 0 AS lost,
           CAST(NULL AS DECIMAL(18, 2)) AS won_amount, 0 AS cycle_days, CAST(NULL AS DECIMAL(18, 2)) AS open_pipeline
    FROM marts.fct_sales_orders
    WHERE is_revenue
    GROUP BY COALESCE(rep_id, customer_owner_rep_id, ''), order_date
    UNION ALL
    SELECT COALESCE(rep_id, ''), payment_date, 0, NULL, SUM(reporting_amount), NULL, 0, 0, 0, NULL, 0, NULL
    FROM marts.fct_payments
    GROUP BY COALESCE(rep_id, ''), payment_date
    UNION ALL
    SELECT b.rep_id, t.month, 0, NULL, NULL, SUM(t.amount), 0, 0, 0, NULL, 0, NULL
    FROM target t
    JOIN marts.bridge_sales_rep b ON b.source_name = t.source_name AND b.rep_ref = t.rep_key
    WHERE b.rep_id IS NOT NULL
    GROUP BY b.rep_id, t.month
    UNION ALL
    SELECT rep_ref, order_date, 0, NULL, NULL, NULL, COUNT(*), 0, 0, NULL, 0, NULL
    FROM first_order
    WHERE rn = 1
    GROUP BY rep_ref, order_date
    UNION ALL
    SELECT COALESCE(rep_id, ''), CAST(closed_at AS DATE), 0, NULL, NULL, NULL, 0,
           COUNT(*) FILTER (WHERE outcome = 'won'), COUNT(*) FILTER (WHERE outcome = 'lost'),
           SUM(reporting_amount) FILTER (WHERE outcome = 'won'), SUM(sales_cycle_days) FILTER (WHERE outcome = 'won'),
           NULL
    FROM marts.fct_opportunities
    WHERE outcome <> 'open' AND closed_at IS NOT NULL
    GROUP BY COALESCE(rep_id, ''), CAST(closed_at AS DATE)
    UNION ALL
    -- open pipeline at the end of each month, on the month's last day
    SELECT rep_ref, CAST(month + INTERVAL '1 month' AS DATE) - 1, 0, NULL, NULL, NULL, 0, 0, 0, NULL, 0, open_pipeline
    FROM (
        SELECT
            p.rep_ref, m.month,
            SUM(COALESCE(d.delta, 0)) OVER (PARTITION BY p.rep_ref ORDER BY m.month ROWS UNBOUNDED PRECEDING)
                AS open_pipeline
        FROM (SELECT rep_ref, MIN(month) AS first_month FROM pipeline_delta GROUP BY rep_ref) p
        JOIN month_list m ON m.month >= p.first_month
        CROSS JOIN as_of a
        LEFT JOIN (SELECT rep_ref, month, SUM(delta) AS delta FROM pipeline_delta GROUP BY rep_ref, month) d
            ON d.rep_ref = p.rep_ref AND d.month = m.month
        WHERE m.month <= a.as_of_month
    ) pipeline
    WHERE open_pipeline <> 0
),
rep_month AS (
    SELECT
        f.rep_ref, v.team, v.region, CAST(date_trunc('month', CAST(f.day AS TIMESTAMP)) AS DATE) AS month,
        SUM(f.orders) AS orders, COALESCE(SUM(f.revenue), 0) AS revenue, COALESCE(SUM(f.payments), 0) AS payments,
        SUM(f.target) AS target, SUM(f.new_customers) AS new_customers, SUM(f.won) AS won, SUM(f.lost) AS lost,
        COALESCE(SUM(f.won_amount), 0) AS won_amount, SUM(f.cycle_days) AS cycle_days,
        COALESCE(SUM(f.open_pipeline), 0) AS open_pipeline
    FROM measure f
    LEFT JOIN marts.dim_sales_rep v
        ON v.rep_id = f.rep_ref
       AND CAST(f.day AS TIMESTAMP) >= v.valid_from
       AND (v.valid_to IS NULL OR CAST(f.day AS TIMESTAMP) < v.valid_to)
    GROUP BY f.rep_ref, v.team, v.region, CAST(date_trunc('month', CAST(f.day AS TIMESTAMP)) AS DATE)
),
rep_row AS (
    SELECT m.*, NULLIF(m.rep_ref, '') AS rep_id, r.name AS rep_name
    FROM rep_month m
    LEFT JOIN marts.dim_sales_rep r ON r.rep_id = m.rep_ref AND r.is_current
),
team_target AS (
    SELECT team, month, SUM(amount) AS target
    FROM target
    WHERE rep_key IS NULL AND team IS NOT NULL
    GROUP BY team, month
),
team_month AS (
    SELECT team, month, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(payments) AS payments,
           SUM(target) AS target, SUM(new_customers) AS new_customers, SUM(won) AS won, SUM(lost) AS lost,
           SUM(won_amount) AS won_amount, SUM(cycle_days) AS cycle_days, SUM(open_pipeline) AS open_pipeline
    FROM rep_row
    GROUP BY team, month
    UNION ALL  -- months where a team has a target but no activity yet
    SELECT t.team, t.month, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0
    FROM team_target t
    LEFT JOIN (SELECT DISTINCT team, month FROM rep_row) r ON r.team = t.team AND r.month = t.month
    WHERE r.month IS NULL
),
all_level AS (
    SELECT 'rep' AS level, COALESCE(rep_id, '') AS member, rep_id, rep_name, team, region, month, orders, revenue,
           payments, target, new_customers, won, lost, won_amount, cycle_days, open_pipeline
    FROM rep_row
    UNION ALL
    SELECT 'team', COALESCE(m.team, ''), NULL, NULL, m.team, NULL, m.month, m.orders, m.revenue, m.payments,
           COALESCE(t.target, m.target), m.new_customers, m.won, m.lost, m.won_amount, m.cycle_days,
           m.open_pipeline
    FROM team_month m
    LEFT JOIN team_target t ON t.team = m.team AND t.month = m.month
    UNION ALL
    SELECT 'region', COALESCE(region, ''), NULL, NULL, NULL, region, month, SUM(orders), SUM(revenue), SUM(payments),
           SUM(target), SUM(new_customers), SUM(won), SUM(lost), SUM(won_amount), SUM(cycle_days),
           SUM(open_pipeline)
    FROM rep_row
    GROUP BY region, month
),
member_month AS (
    SELECT a.level, a.member, a.month, d.fiscal_year, d.fiscal_quarter, SUM(a.revenue) AS revenue,
           SUM(a.target) AS target, SUM(a.won) AS won, SUM(a.lost) AS lost, SUM(a.won_amount) AS won_amount,
           SUM(a.cycle_days) AS cycle_days
    FROM all_level a
    JOIN marts.dim_date d ON d.date_day = a.month
    GROUP BY a.level, a.member, a.month, d.fiscal_year, d.fiscal_quarter
),
member_period AS (
    SELECT
        level, member, month, fiscal_year, fiscal_quarter,
        SUM(revenue) OVER (PARTITION BY level, member, fiscal_year, fiscal_quarter ORDER BY month
                           ROWS UNBOUNDED PRECEDING) AS revenue_qtd,
        SUM(revenue) OVER (PARTITION BY level, member, fiscal_year ORDER BY month ROWS UNBOUNDED PRECEDING)
            AS revenue_ytd,
        SUM(target) OVER (PARTITION BY level, member, fiscal_year ORDER BY month ROWS UNBOUNDED PRECEDING)
            AS target_ytd,
        SUM(revenue) OVER (PARTITION BY level, member ORDER BY month
                           RANGE BETWEEN INTERVAL '12 months' PRECEDING AND INTERVAL '12 months' PRECEDING)
            AS revenue_prior_year,
        revenue AS member_revenue,
        SUM(revenue) OVER t12m AS revenue_t12m,
        SUM(won) OVER t12m AS won_t12m,
        SUM(lost) OVER t12m AS lost_t12m,
        SUM(won_amount) OVER t12m AS won_amount_t12m,
        SUM(cycle_days) OVER t12m AS cycle_days_t12m
    FROM member_month
    WINDOW t12m AS (PARTITION BY level, member ORDER BY month
                    RANGE BETWEEN INTERVAL '11 months' PRECEDING AND CURRENT ROW)
)
SELECT
    a.level,
    a.rep_id,
    a.rep_name,
    a.team,
    a.region,
    a.month,
    p.fiscal_year,
    p.fiscal_quarter,
    CAST(a.orders AS BIGINT) AS orders,
    CAST(a.revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(a.payments AS DECIMAL(18, 2)) AS payments_collected,
    CAST(a.target AS DECIMAL(18, 2)) AS target,
    CAST(CAST(a.revenue AS DECIMAL(18, 2)) * 100 / NULLIF(a.target, 0) AS DECIMAL(18, 2)) AS attainment_pct,
    CAST(a.new_customers AS BIGINT) AS new_customers,
    CAST(a.won AS BIGINT) AS opportunities_won,
    CAST(a.lost AS BIGINT) AS opportunities_lost,
    CAST(CAST(a.won AS DECIMAL(18, 2)) * 100 / NULLIF(a.won + a.lost, 0) AS DECIMAL(9, 2)) AS win_rate_pct,
    CAST(a.won_amount AS DECIMAL(18, 2)) AS won_amount,
    CAST(a.won_amount / NULLIF(a.won, 0) AS DECIMAL(18, 2)) AS avg_deal_size,
    CAST(CAST(a.cycle_days AS DECIMAL(18, 2)) / NULLIF(a.won, 0) AS DECIMAL(9, 1)) AS avg_sales_cycle_days,
    CAST(a.cycle_days AS BIGINT) AS won_cycle_days,
    CAST(a.open_pipeline AS DECIMAL(18, 2)) AS open_pipeline,
    CAST(p.revenue_qtd AS DECIMAL(18, 2)) AS revenue_qtd,
    CAST(p.revenue_ytd AS DECIMAL(18, 2)) AS revenue_ytd,
    CAST(p.target_ytd AS DECIMAL(18, 2)) AS target_ytd,
    CAST(p.revenue_ytd * 100 / NULLIF(p.target_ytd, 0) AS DECIMAL(18, 2)) AS attainment_ytd_pct,
    CAST(p.revenue_prior_year AS DECIMAL(18, 2)) AS revenue_prior_year,
    CAST((p.member_revenue - p.revenue_prior_year) * 100 / NULLIF(p.revenue_prior_year, 0) AS DECIMAL(18, 2))
        AS revenue_yoy_pct,
    CAST(p.revenue_t12m AS DECIMAL(18, 2)) AS revenue_t12m,
    CAST(CAST(p.won_t12m AS DECIMAL(18, 2)) * 100 / NULLIF(p.won_t12m + p.lost_t12m, 0) AS DECIMAL(9, 2))
        AS win_rate_t12m_pct,
    CAST(p.won_amount_t12m / NULLIF(p.won_t12m, 0) AS DECIMAL(18, 2)) AS avg_deal_size_t12m,
    CAST(CAST(p.cycle_days_t12m AS DECIMAL(18, 2)) / NULLIF(p.won_t12m, 0) AS DECIMAL(9, 1))
        AS avg_sales_cycle_t12m_days
FROM all_level a
JOIN member_period p ON p.level = a.level AND p.member = a.member AND p.month = a.month
