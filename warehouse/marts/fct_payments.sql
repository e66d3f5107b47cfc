-- One row per payment received (回款), with its golden customer, the order it pays (same source, by order
-- number) and its rep: the payment's own rep, else the order's.
WITH order_by_number AS (
    SELECT
        source_name, order_number, order_key, rep_id,
        ROW_NUMBER() OVER (PARTITION BY source_name, order_number ORDER BY order_date, order_key) AS rn
    FROM marts.fct_sales_orders
)
SELECT
    p.source_name,
    p.stream,
    p.source_key AS payment_key,
    p.payment_number,
    p.payment_date,
    CAST(date_trunc('month', CAST(p.payment_date AS TIMESTAMP)) AS DATE) AS payment_month,
    CAST(p.amount AS DECIMAL(18, 2)) AS amount,
    p.customer_key,
    x.golden_id,
    p.order_number,
    o.order_key,
    p.rep_key,
    COALESCE(b.rep_id, o.rep_id) AS rep_id,
    r.name AS rep_name
FROM staging.payment p
LEFT JOIN mdm.xref x
    ON x.source_name = p.source_name
   AND x.stream = p.customer_stream
   AND x.source_key = p.customer_key
LEFT JOIN order_by_number o ON o.source_name = p.source_name AND o.order_number = p.order_number AND o.rn = 1
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = p.source_name AND b.rep_ref = p.rep_key
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = COALESCE(b.rep_id, o.rep_id)
