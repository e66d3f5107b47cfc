-- One row per calendar day, from 1 January of the year of the earliest fact date to 31 December of the year of
-- the latest (the current year when there are no facts). Numbers come from a cross join of digits: no
-- generate_series, whose forms differ between DuckDB and PostgreSQL. ISO weeks belong to their ISO year
-- (2027-01-01 is in week 53 of 2026); the fiscal year starts in the month staging.mart_setting names
-- (marts.calendar.fiscal_year_start) and is named by the calendar year it ends in; working days are
-- Monday to Friday less public holidays, plus weekend days that are worked (staging.holiday: 调休).
WITH fact_date AS (
    SELECT order_date AS d FROM staging.sales_order
    UNION ALL SELECT payment_date FROM staging.payment
    UNION ALL SELECT bill_date FROM staging.receivable
    UNION ALL SELECT due_date FROM staging.receivable
    UNION ALL SELECT CAST(created_at AS DATE) FROM staging.opportunity
    UNION ALL SELECT CAST(closed_at AS DATE) FROM staging.opportunity
    UNION ALL SELECT CAST(created_at AS DATE) FROM staging.lead
    UNION ALL SELECT CAST(converted_at AS DATE) FROM staging.lead
    UNION ALL SELECT month FROM staging.target
    UNION ALL SELECT month FROM staging.channel_cost
),
span AS (
    SELECT
        CAST(date_trunc('year', CAST(COALESCE(MIN(d), CURRENT_DATE) AS TIMESTAMP)) AS DATE) AS first_day,
        CAST(date_trunc('year', CAST(COALESCE(MAX(d), CURRENT_DATE) AS TIMESTAMP)) + INTERVAL '1 year' AS DATE) - 1
            AS last_day
    FROM fact_date
),
setting AS (
    SELECT COALESCE(MAX(CASE WHEN name = 'fiscal_year_start' THEN CAST(value AS INTEGER) END), 1) AS fiscal_start
    FROM staging.mart_setting
),
digit (n) AS (
    VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)
),
day_number AS (
    SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n AS n
    FROM digit a CROSS JOIN digit b CROSS JOIN digit c CROSS JOIN digit d CROSS JOIN digit e
),
holiday AS (
    SELECT day, MIN(name) AS name, MAX(CASE WHEN kind = 'holiday' THEN 1 ELSE 0 END) = 1 AS is_holiday,
           MAX(CASE WHEN kind = 'workday' THEN 1 ELSE 0 END) = 1 AS is_workday
    FROM staging.holiday
    GROUP BY day
),
calendar AS (
    SELECT
        c.date_day,
        CAST(EXTRACT(year FROM c.date_day) AS INTEGER) AS year,
        CAST(EXTRACT(month FROM c.date_day) AS INTEGER) AS month,
        CAST(EXTRACT(isodow FROM c.date_day) AS INTEGER) AS day_of_week,
        s.fiscal_start,
        COALESCE(h.is_holiday, FALSE) AS is_holiday,
        CASE WHEN h.is_holiday OR h.is_workday THEN h.name END AS holiday_name,
        CASE
            WHEN h.is_workday THEN TRUE
            WHEN h.is_holiday THEN FALSE
            ELSE EXTRACT(isodow FROM c.date_day) < 6
        END AS is_working_day
    FROM (
        SELECT s.first_day + CAST(x.n AS INTEGER) AS date_day
        FROM span s
        JOIN day_number x ON x.n <= s.last_day - s.first_day
    ) c
    CROSS JOIN setting s
    LEFT JOIN holiday h ON h.day = c.date_day
),
fiscal AS (
    SELECT
        c.*,
        MOD(c.month - c.fiscal_start + 12, 12) + 1 AS fiscal_month,
        c.year + CASE WHEN c.fiscal_start > 1 AND c.month >= c.fiscal_start THEN 1 ELSE 0 END AS fiscal_year
    FROM calendar c
)
SELECT
    date_day,
    CAST(year * 10000 + month * 100 + EXTRACT(day FROM date_day) AS INTEGER) AS date_key,
    year,
    CAST(EXTRACT(quarter FROM date_day) AS INTEGER) AS quarter,
    month,
    CAST(date_trunc('month', CAST(date_day AS TIMESTAMP)) AS DATE) AS month_start,
    CAST(year AS VARCHAR) || '-' || LPAD(CAST(month AS VARCHAR), 2, '0') AS year_month,
    CAST(EXTRACT(day FROM date_day) AS INTEGER) AS day_of_month,
    day_of_week,
    CAST(EXTRACT(isoyear FROM date_day) AS INTEGER) AS iso_year,
    CAST(EXTRACT(week FROM date_day) AS INTEGER) AS iso_week,
    date_day - (day_of_week - 1) AS week_start,
    day_of_week >= 6 AS is_weekend,
    CAST(fiscal_year AS INTEGER) AS fiscal_year,
    CAST((fiscal_month - 1 - MOD(fiscal_month - 1, 3)) / 3 + 1 AS INTEGER) AS fiscal_quarter,
    CAST(fiscal_month AS INTEGER) AS fiscal_month,
    is_holiday,
    holiday_name,
    is_working_day,
    CAST(SUM(CASE WHEN is_working_day THEN 1 ELSE 0 END)
         OVER (PARTITION BY year, month ORDER BY date_day ROWS UNBOUNDED PRECEDING) AS INTEGER) AS working_day_of_month,
    CAST(SUM(CASE WHEN is_working_day THEN 1 ELSE 0 END) OVER (PARTITION BY year, month) AS INTEGER)
        AS working_days_in_month
FROM fiscal
