-- Sales performance over fiscal quarters and fiscal years, per rep, team and region: the months of
-- marts.sales_performance_monthly added up, so that win rate, average deal size and sales cycle are taken over the
-- whole period (won / (won + lost) of the period, not an average of monthly rates). A rep's team and region are
-- those of its latest month in the period; the open pipeline is that at the end of the period (or of the last
-- month with facts, for the period in progress); the prior year is the same period one fiscal year before.
WITH bound AS (
    SELECT 'quarter' AS period, fiscal_year, fiscal_quarter, MIN(date_day) AS period_start, MAX(date_day) AS period_end
    FROM marts.dim_date
    GROUP BY fiscal_year, fiscal_quarter
    UNION ALL
    SELECT 'year', fiscal_year, NULL, MIN(date_day), MAX(date_day)
    FROM marts.dim_date
    GROUP BY fiscal_year
),
as_of AS (
    SELECT MAX(month) AS as_of_month FROM marts.sales_performance_monthly
),
month_row AS (
    SELECT
        m.*,
        CASE level WHEN 'rep' THEN COALESCE(rep_id, '') WHEN 'team' THEN COALESCE(team, '')
                   ELSE COALESCE(region, '') END AS member
    FROM marts.sales_performance_monthly m
),
in_period AS (
    SELECT 'quarter' AS period, fiscal_quarter AS period_quarter, r.* FROM month_row r
    UNION ALL
    SELECT 'year', CAST(NULL AS INTEGER), r.* FROM month_row r
),
labelled AS (
    SELECT
        i.*,
        b.period_start,
        b.period_end,
        ROW_NUMBER() OVER (PARTITION BY i.level, i.member, i.period, i.fiscal_year, i.period_quarter
                           ORDER BY i.month DESC, i.team, i.region) AS latest,
        -- (the as-of month as a scalar subquery: PostgreSQL computes it once, where a join to it was computed again
        -- for every row, 7 of the 8 s the mart took on the demo)
        i.month = LEAST(CAST(date_trunc('month', CAST(b.period_end AS TIMESTAMP)) AS DATE),
                        (SELECT as_of_month FROM as_of)) AS at_end
    FROM in_period i
    JOIN bound b
        ON b.period = i.period AND b.fiscal_year = i.fiscal_year
       AND COALESCE(b.fiscal_quarter, 0) = COALESCE(i.period_quarter, 0)
),
total AS (
    SELECT
        level, member, period, fiscal_year, period_quarter, MIN(period_start) AS period_start,
        MAX(period_end) AS period_end,
        MAX(CASE WHEN latest = 1 THEN rep_name END) AS rep_name,
        MAX(CASE WHEN latest = 1 THEN team END) AS team,
        MAX(CASE WHEN latest = 1 THEN region END) AS region,
        SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(target) AS target,
        SUM(payments_collected) AS payments, SUM(new_customers) AS new_customers,
        SUM(opportunities_won) AS won, SUM(opportunities_lost) AS lost, SUM(won_amount) AS won_amount,
        SUM(won_cycle_days) AS cycle_days,
        COALESCE(SUM(CASE WHEN at_end THEN open_pipeline END), 0) AS open_pipeline
    FROM labelled
    GROUP BY level, member, period, fiscal_year, period_quarter
),
-- the same period one fiscal year before: the member's previous period row when it is that year's (a window, not a
-- join of `total` to itself, which PostgreSQL ran as a nested loop over every pair of rows)
with_prior AS (
    SELECT
        t.*,
        CASE WHEN LAG(fiscal_year) OVER prior = fiscal_year - 1 THEN LAG(revenue) OVER prior END AS prior_revenue
    FROM total t
    WINDOW prior AS (PARTITION BY level, member, period, period_quarter ORDER BY fiscal_year)
)
SELECT
    t.level,
    CASE WHEN t.level = 'rep' THEN NULLIF(t.member, '') END AS rep_id,
    t.rep_name,
    t.team,
    t.region,
    t.period,
    CAST(t.fiscal_year AS INTEGER) AS fiscal_year,
    CAST(t.period_quarter AS INTEGER) AS fiscal_quarter,
    t.period_start,
    t.period_end,
    CAST(t.orders AS BIGINT) AS orders,
    CAST(t.revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(t.target AS DECIMAL(18, 2)) AS target,
    CAST(t.revenue * 100 / NULLIF(t.target, 0) AS DECIMAL(18, 2)) AS attainment_pct,
    CAST(t.payments AS DECIMAL(18, 2)) AS payments_collected,
    CAST(t.new_customers AS BIGINT) AS new_customers,
    CAST(t.won AS BIGINT) AS opportunities_won,
    CAST(t.lost AS BIGINT) AS opportunities_lost,
    CAST(CAST(t.won AS DECIMAL(18, 2)) * 100 / NULLIF(t.won + t.lost, 0) AS DECIMAL(9, 2)) AS win_rate_pct,
    CAST(t.won_amount AS DECIMAL(18, 2)) AS won_amount,
    CAST(t.won_amount / NULLIF(t.won, 0) AS DECIMAL(18, 2)) AS avg_deal_size,
    CAST(CAST(t.cycle_days AS DECIMAL(18, 2)) / NULLIF(t.won, 0) AS DECIMAL(9, 1)) AS avg_sales_cycle_days,
    CAST(t.open_pipeline AS DECIMAL(18, 2)) AS open_pipeline_end,
    CAST(t.prior_revenue AS DECIMAL(18, 2)) AS revenue_prior_year,
    CAST((t.revenue - t.prior_revenue) * 100 / NULLIF(t.prior_revenue, 0) AS DECIMAL(18, 2)) AS revenue_yoy_pct
FROM with_prior t
