-- Sales performance per month: one row per rep (level 'rep'), then the same measures rolled up per team
-- (level 'team') and per region (level 'region'). Orders, payments and opportunities without a known rep are
-- the rep row whose rep_id is null. A team's target is its own target from the targets file when it has one
-- for the month, else the sum of its reps' targets; a region's target is the sum of its reps' targets.
WITH rep_measure AS (
    SELECT COALESCE(rep_id, '') AS rep_ref, order_month AS month, COUNT(*) AS orders, SUM(amount) AS revenue,
           CAST(NULL AS DECIMAL(18, 2)) AS payments, CAST(NULL AS DECIMAL(18, 2)) AS target,
           0 AS new_customers, 0 AS won, 0 AS lost, CAST(NULL AS DECIMAL(18, 2)) AS won_amount,
           0 AS cycle_days
    FROM marts.fct_sales_orders
    GROUP BY COALESCE(rep_id, ''), order_month
    UNION ALL
    SELECT COALESCE(rep_id, ''), payment_month, 0, NULL, SUM(amount), NULL, 0, 0, 0, NULL, 0
    FROM marts.fct_payments
    GROUP BY COALESCE(rep_id, ''), payment_month
    UNION ALL
    SELECT b.rep_id, CAST(date_trunc('month', CAST(t.month AS TIMESTAMP)) AS DATE), 0, NULL, NULL, SUM(t.amount),
           0, 0, 0, NULL, 0
    FROM staging.target t
    JOIN marts.bridge_sales_rep b ON b.source_name = t.source_name AND b.rep_ref = t.rep_key
    WHERE b.rep_id IS NOT NULL
    GROUP BY b.rep_id, CAST(date_trunc('month', CAST(t.month AS TIMESTAMP)) AS DATE)
    UNION ALL
    -- a customer is new in the month of its first order, for the rep of that order
    SELECT rep_ref, order_month, 0, NULL, NULL, NULL, COUNT(*), 0, 0, NULL, 0
    FROM (
        SELECT COALESCE(rep_id, '') AS rep_ref, order_month,
               ROW_NUMBER() OVER (PARTITION BY golden_id ORDER BY order_date, source_name, order_key) AS rn
        FROM marts.fct_sales_orders
        WHERE golden_id IS NOT NULL
    ) first_order
    WHERE rn = 1
    GROUP BY rep_ref, order_month
    UNION ALL
    SELECT COALESCE(rep_id, ''), closed_month, 0, NULL, NULL, NULL, 0,
           COUNT(*) FILTER (WHERE outcome = 'won'), COUNT(*) FILTER (WHERE outcome = 'lost'),
           SUM(amount) FILTER (WHERE outcome = 'won'), SUM(sales_cycle_days) FILTER (WHERE outcome = 'won')
    FROM marts.fct_opportunities
    WHERE outcome <> 'open' AND closed_month IS NOT NULL
    GROUP BY COALESCE(rep_id, ''), closed_month
),
rep_month AS (
    SELECT
        rep_ref, month,
        SUM(orders) AS orders, COALESCE(SUM(revenue), 0) AS revenue, COALESCE(SUM(payments), 0) AS payments,
        SUM(target) AS target, SUM(new_customers) AS new_customers, SUM(won) AS won, SUM(lost) AS lost,
        COALESCE(SUM(won_amount), 0) AS won_amount, SUM(cycle_days) AS cycle_days
    FROM rep_measure
    GROUP BY rep_ref, month
),
-- open pipeline at the end of each month: created by then, and not won or lost by then
pipeline AS (
    SELECT m.rep_ref, m.month, SUM(o.amount) AS open_pipeline
    FROM rep_month m
    JOIN marts.fct_opportunities o
        ON COALESCE(o.rep_id, '') = m.rep_ref
       AND o.created_month <= m.month
       AND (o.outcome = 'open' OR o.closed_month IS NULL OR o.closed_month > m.month)
    GROUP BY m.rep_ref, m.month
),
rep_row AS (
    SELECT
        m.*,
        COALESCE(p.open_pipeline, 0) AS open_pipeline,
        NULLIF(m.rep_ref, '') AS rep_id,
        r.name AS rep_name,
        r.team,
        r.region
    FROM rep_month m
    LEFT JOIN pipeline p ON p.rep_ref = m.rep_ref AND p.month = m.month
    LEFT JOIN marts.dim_sales_rep r ON r.rep_id = m.rep_ref
),
team_target AS (
    SELECT team, CAST(date_trunc('month', CAST(month AS TIMESTAMP)) AS DATE) AS month, SUM(amount) AS target
    FROM staging.target
    WHERE rep_key IS NULL AND team IS NOT NULL
    GROUP BY team, CAST(date_trunc('month', CAST(month AS TIMESTAMP)) AS DATE)
),
team_month AS (
    SELECT team, month, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(payments) AS payments,
           SUM(target) AS target, SUM(new_customers) AS new_customers, SUM(won) AS won, SUM(lost) AS lost,
           SUM(won_amount) AS won_amount, SUM(cycle_days) AS cycle_days, SUM(open_pipeline) AS open_pipeline
    FROM rep_row
    GROUP BY team, month
    UNION ALL  -- months where a team has a target but no activity yet
    SELECT t.team, t.month, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0
    FROM team_target t
    WHERE NOT EXISTS (SELECT 1 FROM rep_row r WHERE r.team = t.team AND r.month = t.month)
),
all_level AS (
    SELECT 'rep' AS level, rep_id, rep_name, team, region, month, orders, revenue, payments, target,
           new_customers, won, lost, won_amount, cycle_days, open_pipeline
    FROM rep_row
    UNION ALL
    SELECT 'team', NULL, NULL, m.team, NULL, m.month, m.orders, m.revenue, m.payments,
           COALESCE(t.target, m.target), m.new_customers, m.won, m.lost, m.won_amount, m.cycle_days,
           m.open_pipeline
    FROM team_month m
    LEFT JOIN team_target t ON t.team = m.team AND t.month = m.month
    UNION ALL
    SELECT 'region', NULL, NULL, NULL, region, month, SUM(orders), SUM(revenue), SUM(payments), SUM(target),
           SUM(new_customers), SUM(won), SUM(lost), SUM(won_amount), SUM(cycle_days), SUM(open_pipeline)
    FROM rep_row
    GROUP BY region, month
)
SELECT
    level,
    rep_id,
    rep_name,
    team,
    region,
    month,
    CAST(orders AS BIGINT) AS orders,
    CAST(revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(payments AS DECIMAL(18, 2)) AS payments_collected,
    CAST(target AS DECIMAL(18, 2)) AS target,
    CAST(CAST(revenue AS DECIMAL(18, 2)) * 100 / NULLIF(target, 0) AS DECIMAL(18, 2)) AS attainment_pct,
    CAST(new_customers AS BIGINT) AS new_customers,
    CAST(won AS BIGINT) AS opportunities_won,
    CAST(lost AS BIGINT) AS opportunities_lost,
    CAST(CAST(won AS DECIMAL(18, 2)) * 100 / NULLIF(won + lost, 0) AS DECIMAL(9, 2)) AS win_rate_pct,
    CAST(won_amount AS DECIMAL(18, 2)) AS won_amount,
    CAST(won_amount / NULLIF(won, 0) AS DECIMAL(18, 2)) AS avg_deal_size,
    CAST(CAST(cycle_days AS DECIMAL(18, 2)) / NULLIF(won, 0) AS DECIMAL(9, 1)) AS avg_sales_cycle_days,
    CAST(open_pipeline AS DECIMAL(18, 2)) AS open_pipeline
FROM all_level
