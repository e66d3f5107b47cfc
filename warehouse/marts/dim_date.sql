-- One row per calendar day, from 1 January of the year of the earliest fact date to 31 December of the year of
-- the latest (the current year when there are no facts). Numbers come from a cross join of digits: no
-- generate_series, whose forms differ between DuckDB and PostgreSQL.
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
digit (n) AS (
    VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)
),
day_number AS (
    SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n AS n
    FROM digit a CROSS JOIN digit b CROSS JOIN digit c CROSS JOIN digit d CROSS JOIN digit e
),
calendar AS (
    SELECT s.first_day + CAST(x.n AS INTEGER) AS date_day
    FROM span s
    JOIN day_number x ON x.n <= s.last_day - s.first_day
)
SELECT
    date_day,
    CAST(EXTRACT(year FROM date_day) * 10000 + EXTRACT(month FROM date_day) * 100 + EXTRACT(day FROM date_day)
         AS INTEGER) AS date_key,
    CAST(EXTRACT(year FROM date_day) AS INTEGER) AS year,
    CAST(EXTRACT(quarter FROM date_day) AS INTEGER) AS quarter,
    CAST(EXTRACT(month FROM date_day) AS INTEGER) AS month,
    CAST(date_trunc('month', CAST(date_day AS TIMESTAMP)) AS DATE) AS month_start,
    CAST(EXTRACT(year FROM date_day) AS VARCHAR) || '-' || LPAD(CAST(EXTRACT(month FROM date_day) AS VARCHAR), 2, '0')
        AS year_month,
    CAST(EXTRACT(day FROM date_day) AS INTEGER) AS day_of_month,
    CAST(EXTRACT(isodow FROM date_day) AS INTEGER) AS day_of_week,
    CAST(EXTRACT(week FROM date_day) AS INTEGER) AS iso_week,
    EXTRACT(isodow FROM date_day) >= 6 AS is_weekend
FROM calendar
