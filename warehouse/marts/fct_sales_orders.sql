-- One row per sales order, with its golden customer (through the xref of the order's own source), its rep, the
-- rep owning the ordering customer record on the order date, the class of its status and whether it counts as
-- revenue, its currency and its amount in the reporting currency at the rate of the order's month.
--
-- Status classes come from the config's marts.order_status (staging.order_status): a source listed there has
-- its statuses classed booked, draft or cancelled, and a status it does not list is 'unknown'; a source not
-- listed has booked orders only. The classes that count as revenue are marts.revenue (default: booked).
--
-- The `changed:` comments after TRUE: where a refresh narrows the orders to those of the changed golden customers
-- (pipelines/mart_refresh.py); TRUE in a whole build.
WITH setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
revenue_class AS (
    SELECT value AS status_class FROM staging.mart_setting WHERE name = 'revenue_class'
    UNION ALL
    SELECT 'booked' WHERE NOT EXISTS (SELECT 1 FROM staging.mart_setting WHERE name = 'revenue_class')
),
status_class AS (
    SELECT source, UPPER(TRIM(status)) AS status, MIN(status_class) AS status_class
    FROM staging.order_status
    GROUP BY source, UPPER(TRIM(status))
),
classified_source AS (
    SELECT DISTINCT source FROM staging.order_status
),
sales_order AS (
    SELECT
        o.*,
        CAST(date_trunc('month', CAST(o.order_date AS TIMESTAMP)) AS DATE) AS order_month,
        COALESCE(UPPER(TRIM(o.currency)), s.reporting_currency) AS currency_code,
        CASE
            WHEN sc.status_class IS NOT NULL THEN sc.status_class
            WHEN cs.source IS NOT NULL THEN 'unknown'
            ELSE 'booked'
        END AS status_class
    FROM staging.sales_order o
    CROSS JOIN setting s
    LEFT JOIN status_class sc ON sc.source = o.source_name AND sc.status = UPPER(TRIM(o.status))
    LEFT JOIN classified_source cs ON cs.source = o.source_name
)
SELECT
    o.source_name,
    o.stream,
    o.source_key AS order_key,
    o.order_number,
    o.order_date,
    o.order_month,
    CAST(o.amount AS DECIMAL(18, 2)) AS amount,
    o.currency_code AS currency,
    fx.rate AS fx_rate,
    CAST(CAST(o.amount AS DECIMAL(38, 2)) * fx.rate AS DECIMAL(18, 2)) AS reporting_amount,
    o.status,
    o.status_class,
    o.status_class IN (SELECT status_class FROM revenue_class) AS is_revenue,
    o.product,
    o.customer_key,
    x.golden_id,
    o.rep_key,
    b.rep_id,
    r.name AS rep_name,
    ob.rep_id AS customer_owner_rep_id
FROM sales_order o
LEFT JOIN mdm.xref x
    ON x.source_name = o.source_name
   AND x.stream = o.customer_stream
   AND x.source_key = o.customer_key
LEFT JOIN marts.dim_fx_rate fx ON fx.currency = o.currency_code AND fx.month = o.order_month
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = o.source_name AND b.rep_ref = o.rep_key
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id AND r.is_current
LEFT JOIN (SELECT source_name, stream, source_key, owner FROM staging.customer WHERE owner IS NOT NULL) c
    ON c.source_name = o.source_name AND c.stream = o.customer_stream AND c.source_key = o.customer_key
LEFT JOIN staging.customer_owner_history h
    ON h.source_name = o.source_name AND h.stream = o.customer_stream AND h.source_key = o.customer_key
   AND o.order_date >= COALESCE(h.valid_from, TIMESTAMP '1900-01-01 00:00:00') AND o.order_date < h.valid_to
LEFT JOIN marts.bridge_sales_rep ob
    ON ob.source_name = o.source_name AND ob.rep_ref = CASE WHEN h.valid_to IS NOT NULL THEN h.owner ELSE c.owner END
WHERE TRUE /* changed: x.golden_id */
