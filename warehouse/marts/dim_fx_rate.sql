-- One row per currency and month: the rate that converts an amount of that month into the reporting currency
-- (marts.currency in the config, staged in staging.mart_setting; CNY by default). A month without its own rate
-- in the FX file takes the latest earlier one; months before a currency's first rate have none. The reporting
-- currency itself converts at 1 in every month.
WITH setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'currency' THEN value END), 'CNY') AS reporting_currency
    FROM staging.mart_setting
),
month_list AS (
    SELECT DISTINCT month_start AS month FROM marts.dim_date
),
rate AS (
    SELECT
        UPPER(TRIM(currency)) AS currency,
        CAST(date_trunc('month', CAST(month AS TIMESTAMP)) AS DATE) AS month,
        MAX(rate) AS rate  -- one rate per currency and month; a file listing two keeps the higher
    FROM staging.fx_rate
    GROUP BY UPPER(TRIM(currency)), CAST(date_trunc('month', CAST(month AS TIMESTAMP)) AS DATE)
),
carried AS (
    SELECT
        m.month, r.currency, r.rate, r.month AS rate_month,
        ROW_NUMBER() OVER (PARTITION BY r.currency, m.month ORDER BY r.month DESC) AS rn
    FROM month_list m
    JOIN rate r ON r.month <= m.month
    CROSS JOIN setting s
    WHERE r.currency <> s.reporting_currency
)
SELECT month, currency, CAST(rate AS DECIMAL(18, 8)) AS rate, rate_month, s.reporting_currency
FROM carried
CROSS JOIN setting s
WHERE rn = 1
UNION ALL
SELECT m.month, s.reporting_currency, CAST(1 AS DECIMAL(18, 8)), m.month, s.reporting_currency
FROM month_list m
CROSS JOIN setting s
