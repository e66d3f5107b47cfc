-- Return per lead source (channel) and month: the leads created, the opportunities created and those won in the
-- month, the revenue won (in the reporting currency) and, when a channel-cost file is configured, the month's cost
-- and the return on it. Sum a period's rows for a longer view: won_revenue and cost add up, the percentages do not.
--
-- An opportunity's channel: that of the lead it is credited to (fct_leads.opportunity_credited), else that of the
-- earliest lead that converted its golden customer before it was created, else the channel written on the
-- opportunity, else its customer record's acquisition channel, else '(unknown)'. Costs without a month (not
-- split by month in the file) are the row whose month is empty.
WITH lead_month AS (
    SELECT channel, created_month AS month, COUNT(*) AS leads
    FROM marts.fct_leads
    GROUP BY channel, created_month
),
credited_lead AS (
    SELECT source_name, opportunity_key, NULLIF(channel, '(unknown)') AS channel
    FROM marts.fct_leads
    WHERE opportunity_credited
),
converting_lead AS (  -- the leads that converted to a golden customer, for its later opportunities
    SELECT golden_id, NULLIF(channel, '(unknown)') AS channel, created_at
    FROM marts.fct_leads
    WHERE is_converted AND golden_id IS NOT NULL AND channel <> '(unknown)'
),
customer_lead AS (
    SELECT
        o.source_name, o.opportunity_key, l.channel,
        ROW_NUMBER() OVER (PARTITION BY o.source_name, o.opportunity_key ORDER BY l.created_at, l.channel) AS rn
    FROM marts.fct_opportunities o
    JOIN converting_lead l ON l.golden_id = o.golden_id AND l.created_at <= o.created_at
),
opportunity AS (
    SELECT
        COALESCE(cl.channel, ul.channel, NULLIF(TRIM(o.channel), ''), NULLIF(TRIM(c.channel), ''), '(unknown)')
            AS channel,
        o.created_month, o.closed_month, o.outcome, o.reporting_amount
    FROM marts.fct_opportunities o
    LEFT JOIN credited_lead cl ON cl.source_name = o.source_name AND cl.opportunity_key = o.opportunity_key
    LEFT JOIN customer_lead ul ON ul.source_name = o.source_name AND ul.opportunity_key = o.opportunity_key
                              AND ul.rn = 1
    LEFT JOIN staging.opportunity so
        ON so.source_name = o.source_name AND so.stream = o.stream AND so.source_key = o.opportunity_key
    LEFT JOIN staging.customer c
        ON c.source_name = so.source_name AND c.stream = so.customer_stream AND c.source_key = so.customer_key
),
opportunity_month AS (
    SELECT channel, created_month AS month, COUNT(*) AS opportunities, 0 AS won,
           CAST(NULL AS DECIMAL(18, 2)) AS won_revenue
    FROM opportunity
    GROUP BY channel, created_month
    UNION ALL
    SELECT channel, closed_month, 0, COUNT(*), SUM(reporting_amount)
    FROM opportunity
    WHERE outcome = 'won'
    GROUP BY channel, closed_month
),
setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
cost AS (  -- in the reporting currency; a cost without a month at the rate of its file's first month
    SELECT TRIM(k.channel) AS channel, CAST(date_trunc('month', CAST(k.month AS TIMESTAMP)) AS DATE) AS month,
           SUM(k.amount * COALESCE(fx.rate, CASE WHEN k.month IS NULL AND COALESCE(UPPER(TRIM(k.currency)),
               s.reporting_currency) = s.reporting_currency THEN 1 END)) AS cost
    FROM staging.channel_cost k
    CROSS JOIN setting s
    LEFT JOIN marts.dim_fx_rate fx
        ON fx.currency = COALESCE(UPPER(TRIM(k.currency)), s.reporting_currency)
       AND fx.month = CAST(date_trunc('month', CAST(k.month AS TIMESTAMP)) AS DATE)
    GROUP BY TRIM(k.channel), CAST(date_trunc('month', CAST(k.month AS TIMESTAMP)) AS DATE)
),
measure AS (
    SELECT channel, month, leads, 0 AS opportunities, 0 AS won, CAST(NULL AS DECIMAL(18, 2)) AS won_revenue,
           CAST(NULL AS DECIMAL(18, 2)) AS cost
    FROM lead_month
    UNION ALL
    SELECT channel, month, 0, opportunities, won, won_revenue, NULL
    FROM opportunity_month
    UNION ALL
    SELECT channel, month, 0, 0, 0, NULL, cost
    FROM cost
),
channel_month AS (
    SELECT channel, month, SUM(leads) AS leads, SUM(opportunities) AS opportunities, SUM(won) AS won,
           COALESCE(SUM(won_revenue), 0) AS won_revenue, SUM(cost) AS cost
    FROM measure
    GROUP BY channel, month
)
SELECT
    channel,
    month,
    CAST(leads AS BIGINT) AS leads,
    CAST(opportunities AS BIGINT) AS opportunities,
    CAST(won AS BIGINT) AS won_opportunities,
    CAST(won_revenue AS DECIMAL(18, 2)) AS won_revenue,
    CAST(CAST(won AS DECIMAL(18, 2)) * 100 / NULLIF(leads, 0) AS DECIMAL(9, 2)) AS lead_to_won_pct,
    CAST(cost AS DECIMAL(18, 2)) AS cost,
    CAST(cost / NULLIF(leads, 0) AS DECIMAL(18, 2)) AS cost_per_lead,
    CAST((won_revenue - cost) * 100 / NULLIF(cost, 0) AS DECIMAL(18, 2)) AS roi_pct
FROM channel_month
