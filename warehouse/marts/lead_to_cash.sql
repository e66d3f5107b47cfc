-- The funnel per month of lead creation and channel: leads → opportunities → won → ordered → paid. Each stage
-- counts the leads of the previous one that reached it: an opportunity made from the lead; that opportunity won;
-- then an order of the lead's golden customer on or after the win (the lead's creation when the win has no date);
-- then a payment of that customer on or after the order. Days between stages are medians over the leads that
-- reached the later stage. An opportunity several leads led to counts for each of them as a stage reached, but its
-- amount (in the reporting currency) only once, for the lead it is credited to (fct_leads.opportunity_credited).
-- Orders are revenue orders.
WITH opportunity_once AS (
    SELECT
        o.*,
        ROW_NUMBER() OVER (PARTITION BY source_name, opportunity_key ORDER BY stream) AS rn
    FROM marts.fct_opportunities o
),
lead AS (
    SELECT
        l.source_name,
        l.lead_key,
        l.created_month AS month,
        l.channel,
        CAST(l.created_at AS DATE) AS lead_date,
        COALESCE(l.golden_id, o.golden_id) AS golden_id,
        o.opportunity_key,
        CAST(o.created_at AS DATE) AS opportunity_date,
        o.outcome = 'won' AS is_won,
        CASE WHEN o.outcome = 'won' THEN CAST(o.closed_at AS DATE) END AS won_date,
        CASE WHEN o.outcome = 'won' AND l.opportunity_credited THEN o.reporting_amount END AS won_amount
    FROM marts.fct_leads l
    LEFT JOIN opportunity_once o
        ON o.source_name = l.source_name AND o.opportunity_key = l.opportunity_key AND o.rn = 1
),
ordered AS (
    SELECT l.source_name, l.lead_key, MIN(f.order_date) AS order_date
    FROM lead l
    JOIN marts.fct_sales_orders f
        ON f.golden_id = l.golden_id AND f.order_date >= COALESCE(l.won_date, l.lead_date) AND f.is_revenue
    WHERE l.is_won
    GROUP BY l.source_name, l.lead_key
),
paid AS (
    SELECT l.source_name, l.lead_key, MIN(p.payment_date) AS paid_date
    FROM lead l
    JOIN ordered o ON o.source_name = l.source_name AND o.lead_key = l.lead_key
    JOIN marts.fct_payments p ON p.golden_id = l.golden_id AND p.payment_date >= o.order_date
    GROUP BY l.source_name, l.lead_key
),
stage AS (
    SELECT
        l.*,
        o.order_date,
        p.paid_date,
        l.opportunity_date - l.lead_date AS days_lead_to_opportunity,
        l.won_date - l.opportunity_date AS days_opportunity_to_won,
        o.order_date - l.won_date AS days_won_to_order,
        p.paid_date - o.order_date AS days_order_to_paid
    FROM lead l
    LEFT JOIN ordered o ON o.source_name = l.source_name AND o.lead_key = l.lead_key
    LEFT JOIN paid p ON p.source_name = l.source_name AND p.lead_key = l.lead_key
),
funnel AS (
    SELECT
        month,
        channel,
        COUNT(*) AS leads,
        COUNT(opportunity_key) AS opportunities,
        COUNT(*) FILTER (WHERE is_won) AS won,
        COUNT(order_date) AS ordered,
        COUNT(paid_date) AS paid,
        SUM(won_amount) AS won_amount,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY days_lead_to_opportunity) AS median_lead_to_opportunity,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY days_opportunity_to_won) AS median_opportunity_to_won,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY days_won_to_order) AS median_won_to_order,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY days_order_to_paid) AS median_order_to_paid
    FROM stage
    GROUP BY month, channel
)
SELECT
    month,
    channel,
    CAST(leads AS BIGINT) AS leads,
    CAST(opportunities AS BIGINT) AS opportunities,
    CAST(won AS BIGINT) AS won,
    CAST(ordered AS BIGINT) AS ordered,
    CAST(paid AS BIGINT) AS paid,
    CAST(COALESCE(won_amount, 0) AS DECIMAL(18, 2)) AS won_amount,
    CAST(CAST(opportunities AS DECIMAL(18, 2)) * 100 / NULLIF(leads, 0) AS DECIMAL(9, 2))
        AS lead_to_opportunity_pct,
    CAST(CAST(won AS DECIMAL(18, 2)) * 100 / NULLIF(opportunities, 0) AS DECIMAL(9, 2)) AS opportunity_to_won_pct,
    CAST(CAST(ordered AS DECIMAL(18, 2)) * 100 / NULLIF(won, 0) AS DECIMAL(9, 2)) AS won_to_ordered_pct,
    CAST(CAST(paid AS DECIMAL(18, 2)) * 100 / NULLIF(ordered, 0) AS DECIMAL(9, 2)) AS ordered_to_paid_pct,
    CAST(CAST(paid AS DECIMAL(18, 2)) * 100 / NULLIF(leads, 0) AS DECIMAL(9, 2)) AS lead_to_paid_pct,
    CAST(median_lead_to_opportunity AS DECIMAL(9, 1)) AS median_days_lead_to_opportunity,
    CAST(median_opportunity_to_won AS DECIMAL(9, 1)) AS median_days_opportunity_to_won,
    CAST(median_won_to_order AS DECIMAL(9, 1)) AS median_days_won_to_order,
    CAST(median_order_to_paid AS DECIMAL(9, 1)) AS median_days_order_to_paid
FROM funnel
