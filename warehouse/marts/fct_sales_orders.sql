-- One row per sales order, with the golden customer resolved through the xref of the order's own source.
SELECT
    o.source_name,
    o.stream,
    o.source_key AS order_key,
    o.order_number,
    o.order_date,
    o.amount,
    o.currency,
    o.status,
    o.customer_key,
    x.golden_id,
    o.rep_key,
    r.rep_name
FROM staging.sales_order o
LEFT JOIN mdm.xref x
    ON x.source_name = o.source_name
   AND x.stream = o.customer_stream
   AND x.source_key = o.customer_key
LEFT JOIN (
    SELECT source_name, rep_key, MIN(name) AS rep_name
    FROM staging.sales_rep
    GROUP BY source_name, rep_key
) r
    ON r.source_name = o.source_name
   AND r.rep_key = o.rep_key
