-- One row per sales order, with its golden customer (through the xref of the order's own source) and its rep.
SELECT
    o.source_name,
    o.stream,
    o.source_key AS order_key,
    o.order_number,
    o.order_date,
    CAST(date_trunc('month', CAST(o.order_date AS TIMESTAMP)) AS DATE) AS order_month,
    CAST(o.amount AS DECIMAL(18, 2)) AS amount,
    o.currency,
    o.status,
    o.customer_key,
    x.golden_id,
    o.rep_key,
    b.rep_id,
    r.name AS rep_name
FROM staging.sales_order o
LEFT JOIN mdm.xref x
    ON x.source_name = o.source_name
   AND x.stream = o.customer_stream
   AND x.source_key = o.customer_key
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = o.source_name AND b.rep_ref = o.rep_key
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id
