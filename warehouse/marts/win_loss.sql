-- Win/loss analysis: the closed opportunities by channel, industry, amount band, rep, the stage where the lost
-- ones were lost and the loss reason. The channel is that of the lead credited with the opportunity, else the one
-- written on it, else its customer record's acquisition channel. The stage where it was lost is the last stage it
-- was in before the lost stage (fct_opportunity_stages). Rates count opportunities; amounts are in the reporting
-- currency.
WITH closed AS (
    SELECT o.source_name, o.stream, o.opportunity_key, o.stage, o.outcome, o.reporting_amount, o.rep_id,
           o.rep_name, o.sales_cycle_days, o.lost_reason, o.golden_id,
           COALESCE(NULLIF(TRIM(l.channel), '(unknown)'), NULLIF(TRIM(o.channel), ''), o.customer_channel,
                    '(unknown)') AS channel
    FROM marts.fct_opportunities o
    LEFT JOIN marts.fct_leads l
        ON l.source_name = o.source_name AND l.opportunity_key = o.opportunity_key AND l.opportunity_credited
    WHERE o.outcome IN ('won', 'lost')
),
last_open_stage AS (  -- the stage each lost opportunity was in before it was lost
    SELECT s.source_name, s.stream, s.opportunity_key, s.stage,
           ROW_NUMBER() OVER (PARTITION BY s.source_name, s.stream, s.opportunity_key
                              ORDER BY s.stage_number DESC) AS rn
    FROM marts.fct_opportunity_stages s
    JOIN closed c ON c.source_name = s.source_name AND c.stream = s.stream AND c.opportunity_key = s.opportunity_key
    WHERE c.outcome = 'lost' AND NOT s.is_current AND s.stage <> c.stage
),
facts AS (
    SELECT c.*,
           COALESCE(NULLIF(TRIM(d.industry), ''), '(unknown)') AS industry,
           CASE
               WHEN c.reporting_amount IS NULL THEN '(unknown)'
               WHEN c.reporting_amount < 50000 THEN '1: under 50k'
               WHEN c.reporting_amount < 200000 THEN '2: 50k-200k'
               WHEN c.reporting_amount < 500000 THEN '3: 200k-500k'
               WHEN c.reporting_amount < 1000000 THEN '4: 500k-1M'
               ELSE '5: 1M and more'
           END AS amount_band,
           CASE WHEN c.outcome = 'lost' THEN COALESCE(s.stage, '(not recorded)') END AS lost_at_stage
    FROM closed c
    LEFT JOIN marts.dim_customer d ON d.golden_id = c.golden_id
    LEFT JOIN last_open_stage s
        ON s.source_name = c.source_name AND s.stream = c.stream AND s.opportunity_key = c.opportunity_key
       AND s.rn = 1
),
by_dimension AS (
    SELECT 'channel' AS dimension, channel AS value, f.* FROM facts f
    UNION ALL
    SELECT 'industry', industry, f.* FROM facts f
    UNION ALL
    SELECT 'amount_band', amount_band, f.* FROM facts f
    UNION ALL
    SELECT 'rep', COALESCE(rep_name, rep_id, '(unknown)'), f.* FROM facts f
    UNION ALL
    SELECT 'lost_at_stage', lost_at_stage, f.* FROM facts f WHERE outcome = 'lost'
    UNION ALL
    SELECT 'lost_reason', COALESCE(NULLIF(TRIM(lost_reason), ''), '(not recorded)'), f.* FROM facts f
    WHERE outcome = 'lost'
)
SELECT
    dimension,
    value,
    COUNT(*) AS closed,
    SUM(CASE WHEN outcome = 'won' THEN 1 ELSE 0 END) AS won,
    SUM(CASE WHEN outcome = 'lost' THEN 1 ELSE 0 END) AS lost,
    CAST(SUM(CASE WHEN outcome = 'won' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS win_rate,
    CAST(COUNT(*) AS DOUBLE PRECISION) / SUM(COUNT(*)) OVER (PARTITION BY dimension) AS share_of_closed,
    SUM(CASE WHEN outcome = 'won' THEN reporting_amount ELSE 0 END) AS won_amount,
    SUM(CASE WHEN outcome = 'lost' THEN reporting_amount ELSE 0 END) AS lost_amount,
    AVG(CASE WHEN outcome = 'won' THEN CAST(sales_cycle_days AS DOUBLE PRECISION) END) AS avg_cycle_days_won,
    AVG(CASE WHEN outcome = 'lost' THEN CAST(sales_cycle_days AS DOUBLE PRECISION) END) AS avg_cycle_days_lost
FROM by_dimension
GROUP BY dimension, value
