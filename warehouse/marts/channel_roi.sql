-- Return per lead source (channel): leads, the opportunities they became and the revenue of those won, and,
-- when a channel-cost file is configured, the cost and the return on it. An opportunity's channel is that of
-- its lead, else its own; its revenue is counted once even when several leads name it.
WITH lead_channel AS (
    SELECT channel, COUNT(*) AS leads
    FROM marts.fct_leads
    GROUP BY channel
),
opportunity_lead AS (
    SELECT
        source_name, opportunity_key, channel,
        ROW_NUMBER() OVER (PARTITION BY source_name, opportunity_key ORDER BY lead_key) AS rn
    FROM marts.fct_leads
    WHERE opportunity_key IS NOT NULL
),
opportunity_channel AS (
    SELECT
        COALESCE(l.channel, NULLIF(TRIM(o.channel), ''), '(unknown)') AS channel,
        COUNT(*) AS opportunities,
        COUNT(*) FILTER (WHERE o.outcome = 'won') AS won,
        SUM(o.amount) FILTER (WHERE o.outcome = 'won') AS won_revenue
    FROM marts.fct_opportunities o
    LEFT JOIN opportunity_lead l
        ON l.source_name = o.source_name AND l.opportunity_key = o.opportunity_key AND l.rn = 1
    GROUP BY COALESCE(l.channel, NULLIF(TRIM(o.channel), ''), '(unknown)')
),
cost AS (
    SELECT TRIM(channel) AS channel, SUM(amount) AS cost
    FROM staging.channel_cost
    GROUP BY TRIM(channel)
),
channel_list AS (
    SELECT channel FROM lead_channel
    UNION SELECT channel FROM opportunity_channel
    UNION SELECT channel FROM cost
)
SELECT
    c.channel,
    CAST(COALESCE(l.leads, 0) AS BIGINT) AS leads,
    CAST(COALESCE(o.opportunities, 0) AS BIGINT) AS opportunities,
    CAST(COALESCE(o.won, 0) AS BIGINT) AS won_opportunities,
    CAST(COALESCE(o.won_revenue, 0) AS DECIMAL(18, 2)) AS won_revenue,
    CAST(CAST(COALESCE(o.won, 0) AS DECIMAL(18, 2)) * 100 / NULLIF(l.leads, 0) AS DECIMAL(9, 2)) AS lead_to_won_pct,
    CAST(k.cost AS DECIMAL(18, 2)) AS cost,
    CAST(k.cost / NULLIF(l.leads, 0) AS DECIMAL(18, 2)) AS cost_per_lead,
    CAST((COALESCE(o.won_revenue, 0) - k.cost) * 100 / NULLIF(k.cost, 0) AS DECIMAL(18, 2)) AS roi_pct
FROM channel_list c
LEFT JOIN lead_channel l ON l.channel = c.channel
LEFT JOIN opportunity_channel o ON o.channel = c.channel
LEFT JOIN cost k ON k.channel = c.channel
