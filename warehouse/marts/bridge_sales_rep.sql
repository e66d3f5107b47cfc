-- Every way a source refers to a sales rep, resolved to one rep_id: the keys of the rep lists and the rep keys
-- or names written on orders, payments, opportunities, leads, customers (and their earlier owners), contacts and
-- targets.
--
-- Reps are unified by name: rep-list records with the same name (spaces removed) are one rep, unless that name
-- comes with several mobiles (or e-mails), which then tell the people apart. rep_id is a hash of that identity,
-- so it is stable as long as the rep's name is.
WITH rep_record AS (
    SELECT
        source_name,
        rep_key,
        userid,
        REPLACE(TRIM(name), ' ', '') AS name_norm,
        NULLIF(RIGHT(regexp_replace(COALESCE(mobile, ''), '[^0-9]', '', 'g'), 11), '') AS mobile_norm,
        NULLIF(LOWER(TRIM(email)), '') AS email_norm
    FROM staging.sales_rep
),
homonym AS (
    SELECT name_norm, COUNT(DISTINCT mobile_norm) AS mobiles, COUNT(DISTINCT email_norm) AS emails
    FROM rep_record
    GROUP BY name_norm
),
person AS (
    SELECT
        r.*,
        'R' || UPPER(SUBSTR(md5(r.name_norm || CASE
            WHEN h.mobiles > 1 THEN '#' || COALESCE(r.mobile_norm, '')
            WHEN h.emails > 1 THEN '#' || COALESCE(r.email_norm, '')
            ELSE '' END), 1, 10)) AS rep_id
    FROM rep_record r
    JOIN homonym h ON h.name_norm = r.name_norm
),
reference AS (
    SELECT source_name, rep_key AS rep_ref FROM staging.sales_rep
    UNION SELECT source_name, rep_key FROM staging.sales_order
    UNION SELECT source_name, rep_key FROM staging.payment
    UNION SELECT source_name, owner FROM staging.opportunity
    UNION SELECT source_name, owner FROM staging.lead
    UNION SELECT source_name, owner FROM staging.customer
    UNION SELECT source_name, owner FROM staging.customer_owner_history
    UNION SELECT source_name, owner FROM staging.contact
    UNION SELECT source_name, rep_key FROM staging.target
),
-- Values that identify exactly one rep wherever they are written.
unique_name AS (
    SELECT name_norm AS v, MIN(rep_id) AS rep_id FROM person GROUP BY name_norm HAVING COUNT(DISTINCT rep_id) = 1
),
unique_userid AS (
    SELECT userid AS v, MIN(rep_id) AS rep_id FROM person WHERE userid IS NOT NULL
    GROUP BY userid HAVING COUNT(DISTINCT rep_id) = 1
),
unique_email AS (
    SELECT email_norm AS v, MIN(rep_id) AS rep_id FROM person WHERE email_norm IS NOT NULL
    GROUP BY email_norm HAVING COUNT(DISTINCT rep_id) = 1
),
unique_mobile AS (
    SELECT mobile_norm AS v, MIN(rep_id) AS rep_id FROM person WHERE mobile_norm IS NOT NULL
    GROUP BY mobile_norm HAVING COUNT(DISTINCT rep_id) = 1
),
unique_key AS (
    SELECT rep_key AS v, MIN(rep_id) AS rep_id FROM person GROUP BY rep_key HAVING COUNT(DISTINCT rep_id) = 1
),
candidate AS (
    SELECT f.source_name, f.rep_ref, p.rep_id, 1 AS preference, 'rep_key' AS matched_by
    FROM reference f JOIN person p ON p.source_name = f.source_name AND p.rep_key = f.rep_ref
    UNION ALL
    SELECT f.source_name, f.rep_ref, p.rep_id, 2, 'userid'
    FROM reference f JOIN person p ON p.source_name = f.source_name AND p.userid = f.rep_ref
    UNION ALL
    SELECT f.source_name, f.rep_ref, u.rep_id, 3, 'name'
    FROM reference f JOIN unique_name u ON u.v = REPLACE(TRIM(f.rep_ref), ' ', '')
    UNION ALL
    SELECT f.source_name, f.rep_ref, u.rep_id, 4, 'userid_other_source'
    FROM reference f JOIN unique_userid u ON u.v = f.rep_ref
    UNION ALL
    SELECT f.source_name, f.rep_ref, u.rep_id, 5, 'email'
    FROM reference f JOIN unique_email u ON u.v = LOWER(TRIM(f.rep_ref))
    UNION ALL
    SELECT f.source_name, f.rep_ref, u.rep_id, 6, 'mobile'
    FROM reference f JOIN unique_mobile u ON u.v = RIGHT(regexp_replace(f.rep_ref, '[^0-9]', '', 'g'), 11)
    UNION ALL
    SELECT f.source_name, f.rep_ref, u.rep_id, 7, 'rep_key_other_source'
    FROM reference f JOIN unique_key u ON u.v = f.rep_ref
),
best AS (
    SELECT
        source_name, rep_ref, rep_id, matched_by,
        ROW_NUMBER() OVER (PARTITION BY source_name, rep_ref ORDER BY preference, rep_id) AS rn
    FROM candidate
)
SELECT f.source_name, f.rep_ref, b.rep_id, b.matched_by
FROM reference f
LEFT JOIN best b ON b.source_name = f.source_name AND b.rep_ref = f.rep_ref AND b.rn = 1
WHERE f.rep_ref IS NOT NULL
