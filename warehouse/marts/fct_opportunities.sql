-- One row per opportunity, with its golden customer, its rep and its outcome: won, lost or open (from the
-- status as sources write it: won/赢单/成交, lost/输单/丢单, anything else is open).
WITH opportunity AS (
    SELECT
        o.*,
        CASE
            WHEN LOWER(TRIM(o.status)) IN ('won', 'win', 'closed won', 'closed_won', '赢单', '成交', '已成交')
                THEN 'won'
            WHEN LOWER(TRIM(o.status)) IN ('lost', 'lose', 'closed lost', 'closed_lost', '输单', '丢单', '已输单')
                THEN 'lost'
            ELSE 'open'
        END AS outcome
    FROM staging.opportunity o
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
    o.stage,
    o.status,
    o.outcome,
    o.channel,
    o.owner,
    b.rep_id,
    r.name AS rep_name,
    o.created_at,
    CAST(date_trunc('month', o.created_at) AS DATE) AS created_month,
    o.closed_at,
    CASE WHEN o.outcome <> 'open' THEN CAST(date_trunc('month', o.closed_at) AS DATE) END AS closed_month,
    CASE WHEN o.outcome <> 'open' THEN CAST(o.closed_at AS DATE) - CAST(o.created_at AS DATE) END
        AS sales_cycle_days
FROM opportunity o
LEFT JOIN mdm.xref x
    ON x.source_name = o.source_name
   AND x.stream = o.customer_stream
   AND x.source_key = o.customer_key
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = o.source_name AND b.rep_ref = o.owner
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id
