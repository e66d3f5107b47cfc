-- One row per payment received (回款), with its golden customer, the order it pays and its rep. The order, in the
-- payment's source: the one whose number the payment writes, else the one the receivable it settles was billed
-- for (Kingdee's receipt → FSourceBillNo → receivable → FSourceBillNo → order). The rep: the payment's own, else
-- the paid order's, else the rep owning the paying customer record on the payment date. Amounts in the
-- payment's currency and, at the rate of its month, in the reporting currency.
WITH setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
order_by_number AS (
    SELECT
        source_name, order_number, order_key, rep_id,
        ROW_NUMBER() OVER (PARTITION BY source_name, order_number ORDER BY order_date, order_key) AS rn
    FROM marts.fct_sales_orders
),
receivable_by_number AS (
    SELECT
        source_name, receivable_number, order_number,
        ROW_NUMBER() OVER (PARTITION BY source_name, receivable_number ORDER BY bill_date, source_key) AS rn
    FROM staging.receivable
),
payment AS (
    SELECT
        p.*,
        COALESCE(p.order_number, rv.order_number) AS paid_order_number,
        CAST(date_trunc('month', CAST(p.payment_date AS TIMESTAMP)) AS DATE) AS payment_month,
        COALESCE(UPPER(TRIM(p.currency)), s.reporting_currency) AS currency_code
    FROM staging.payment p
    CROSS JOIN setting s
    LEFT JOIN receivable_by_number rv
        ON rv.source_name = p.source_name AND rv.receivable_number = p.receivable_number AND rv.rn = 1
)
SELECT
    p.source_name,
    p.stream,
    p.source_key AS payment_key,
    p.payment_number,
    p.payment_date,
    p.payment_month,
    CAST(p.amount AS DECIMAL(18, 2)) AS amount,
    p.currency_code AS currency,
    fx.rate AS fx_rate,
    CAST(CAST(p.amount AS DECIMAL(38, 2)) * fx.rate AS DECIMAL(18, 2)) AS reporting_amount,
    p.customer_key,
    x.golden_id,
    p.receivable_number,
    p.paid_order_number AS order_number,
    o.order_key,
    p.rep_key,
    COALESCE(b.rep_id, o.rep_id, ob.rep_id) AS rep_id,
    r.name AS rep_name,
    ob.rep_id AS customer_owner_rep_id
FROM payment p
LEFT JOIN mdm.xref x
    ON x.source_name = p.source_name
   AND x.stream = p.customer_stream
   AND x.source_key = p.customer_key
LEFT JOIN marts.dim_fx_rate fx ON fx.currency = p.currency_code AND fx.month = p.payment_month
LEFT JOIN order_by_number o ON o.source_name = p.source_name AND o.order_number = p.paid_order_number AND o.rn = 1
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = p.source_name AND b.rep_ref = p.rep_key
LEFT JOIN (SELECT source_name, stream, source_key, owner FROM staging.customer WHERE owner IS NOT NULL) c
    ON c.source_name = p.source_name AND c.stream = p.customer_stream AND c.source_key = p.customer_key
LEFT JOIN staging.customer_owner_history h
    ON h.source_name = p.source_name AND h.stream = p.customer_stream AND h.source_key = p.customer_key
   AND p.payment_date >= COALESCE(h.valid_from, TIMESTAMP '1900-01-01 00:00:00') AND p.payment_date < h.valid_to
LEFT JOIN marts.bridge_sales_rep ob
    ON ob.source_name = p.source_name AND ob.rep_ref = CASE WHEN h.valid_to IS NOT NULL THEN h.owner ELSE c.owner END
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = COALESCE(b.rep_id, o.rep_id, ob.rep_id) AND r.is_current
