-- One row per opportunity, with its golden customer, its rep and its outcome: won, lost or open (from the
-- status as sources write it: won/赢单/成交, lost/输单/丢单, anything else is open). A won or lost opportunity was
-- closed by its last change at the latest: a close date the source writes after that (an expected date never
-- updated) gives way to the last change (updated_at, else when it was landed), and marts.data_quality counts
-- it. Amounts in the opportunity's currency and, at the rate of its creation month, the reporting currency.
WITH setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
opportunity AS (
    SELECT
        o.*,
        CASE
            WHEN LOWER(TRIM(o.status)) IN ('won', 'win', 'closed won', 'closed_won', '赢单', '成交', '已成交')
                THEN 'won'
            WHEN LOWER(TRIM(o.status)) IN ('lost', 'lose', 'closed lost', 'closed_lost', '输单', '丢单', '已输单')
                THEN 'lost'
            ELSE 'open'
        END AS outcome,
        COALESCE(o.updated_at, o._extracted_at) AS last_change,
        COALESCE(UPPER(TRIM(o.currency)), s.reporting_currency) AS currency_code,
        CAST(date_trunc('month', o.created_at) AS DATE) AS created_month
    FROM staging.opportunity o
    CROSS JOIN setting s
),
closed AS (
    SELECT
        o.*,
        CASE
            WHEN o.outcome = 'open' THEN o.closed_at
            WHEN o.closed_at IS NULL OR CAST(o.closed_at AS DATE) > CAST(o.last_change AS DATE) THEN o.last_change
            ELSE o.closed_at
        END AS close_time
    FROM opportunity o
)
SELECT
    o.source_name,
    o.stream,
    o.source_key AS opportunity_key,
    o.name,
    o.customer_key,
    x.golden_id,
    o.lead_key,
    CAST(o.amount AS DECIMAL(18, 2)) AS amount,
    o.currency_code AS currency,
    fx.rate AS fx_rate,
    CAST(CAST(o.amount AS DECIMAL(38, 2)) * fx.rate AS DECIMAL(18, 2)) AS reporting_amount,
    o.stage,
    o.status,
    o.outcome,
    o.channel,
    o.owner,
    b.rep_id,
    r.name AS rep_name,
    o.created_at,
    o.created_month,
    o.close_time AS closed_at,
    CASE WHEN o.outcome <> 'open' THEN CAST(date_trunc('month', o.close_time) AS DATE) END AS closed_month,
    CASE WHEN o.outcome <> 'open' THEN CAST(o.close_time AS DATE) - CAST(o.created_at AS DATE) END
        AS sales_cycle_days,
    o.stage_changed_at,
    CAST(o.probability AS DECIMAL(9, 4)) AS probability,
    o.lost_reason,
    NULLIF(TRIM(c.channel), '') AS customer_channel,
    o.last_change AS updated_at
FROM closed o
LEFT JOIN mdm.xref x
    ON x.source_name = o.source_name
   AND x.stream = o.customer_stream
   AND x.source_key = o.customer_key
LEFT JOIN staging.customer c
    ON c.source_name = o.source_name
   AND c.stream = o.customer_stream
   AND c.source_key = o.customer_key
LEFT JOIN marts.dim_fx_rate fx ON fx.currency = o.currency_code AND fx.month = o.created_month
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = o.source_name AND b.rep_ref = o.owner
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id AND r.is_current
