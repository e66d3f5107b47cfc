-- One row per staged customer record with its checks, what marts.data_quality counts per stream: the fields it
-- fills, each validity rule (empty when the field is: nothing to check), its golden customer, how many source
-- systems that customer is known to and whether the record repeats a customer already in its stream. Validity
-- rules: USCC check character (GB 32100: 18 characters of the code's set, the last the check of the first 17);
-- phone: a mobile (1[3-9] + 9 digits) or a number with its area code (0 + 9 to 11 digits), after removing
-- separators, +86 and an extension; e-mail: text@text.text; an owner must resolve to a sales rep.
--
-- The `changed:` comments after TRUE: where a refresh narrows the records to those of the changed golden customers
-- (pipelines/mart_refresh.py); TRUE in a whole build. A record's duplicate flag and system count read only the
-- records of its own golden customer, so a refresh of that customer recomputes them.
WITH customer_value AS /* materialized */ (
    -- (only what the checks read: which fields are filled, and the texts the rules below take apart. PostgreSQL
    -- computes this once and sorts its rows for the duplicate flag: narrow rows, not every field of the record.
    -- 1M records: PostgreSQL 11.4 -> 10.7 s, half the sort spilled to disk; DuckDB 1.8 -> 1.5 s)
    SELECT
        c.source_name, c.stream, c.source_key,
        x.golden_id,
        c.name IS NOT NULL AS has_name,
        c.short_name IS NOT NULL AS has_short_name,
        c.uscc IS NOT NULL AS has_uscc,
        c.phone IS NOT NULL AS has_phone,
        c.mobile IS NOT NULL AS has_mobile,
        c.email IS NOT NULL AS has_email,
        c.address IS NOT NULL AS has_address,
        c.contact_name IS NOT NULL AS has_contact_name,
        c.owner IS NOT NULL AS has_owner,
        c.customer_number IS NOT NULL AS has_customer_number,
        c.industry IS NOT NULL AS has_industry,
        c.channel IS NOT NULL AS has_channel,
        c.created_at IS NOT NULL AS has_created_at,
        c.updated_at IS NOT NULL AS has_updated_at,
        CASE WHEN c.email IS NOT NULL THEN c.email LIKE '%_@_%._%' END AS email_valid,
        CASE WHEN c.owner IS NOT NULL THEN b.rep_id IS NOT NULL END AS owner_valid,
        UPPER(REPLACE(REPLACE(TRIM(c.uscc), ' ', ''), '-', '')) AS code,
        regexp_replace(regexp_replace(c.phone, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS phone_digits,
        regexp_replace(regexp_replace(c.mobile, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS mobile_digits
    FROM staging.customer c
    LEFT JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream AND x.source_key = c.source_key
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = c.source_name AND b.rep_ref = c.owner
    WHERE TRUE /* changed: x.golden_id */
),
customer_number AS (
    SELECT
        v.*,
        CASE WHEN phone_digits LIKE '0086%' THEN SUBSTR(phone_digits, 5) WHEN phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12 THEN SUBSTR(phone_digits, 3) ELSE phone_digits END AS phone_national,
        phone_digits LIKE '0086%' OR (phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12) AS phone_intl,
        CASE WHEN mobile_digits LIKE '0086%' THEN SUBSTR(mobile_digits, 5) WHEN mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12 THEN SUBSTR(mobile_digits, 3) ELSE mobile_digits END AS mobile_national,
        mobile_digits LIKE '0086%' OR (mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12) AS mobile_intl
    FROM customer_value v
),
customer AS (
    SELECT
        n.*,
        CASE WHEN n.has_uscc THEN COALESCE(
            n.code SIMILAR TO '[0-9A-HJ-NPQRTUWXY]{18}'
            AND SUBSTR(n.code, 18, 1) = SUBSTR('0123456789ABCDEFGHJKLMNPQRTUWXY', CAST(MOD(31 - MOD(
                  (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  1, 1)) - 1) * 1
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  2, 1)) - 1) * 3
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  3, 1)) - 1) * 9
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  4, 1)) - 1) * 27
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  5, 1)) - 1) * 19
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  6, 1)) - 1) * 26
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  7, 1)) - 1) * 16
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  8, 1)) - 1) * 17
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code,  9, 1)) - 1) * 20
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 10, 1)) - 1) * 29
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 11, 1)) - 1) * 25
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 12, 1)) - 1) * 13
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 13, 1)) - 1) * 8
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 14, 1)) - 1) * 24
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 15, 1)) - 1) * 10
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 16, 1)) - 1) * 30
                + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(code, 17, 1)) - 1) * 28
            , 31), 31) + 1 AS INTEGER), 1), FALSE) END AS uscc_ok,
        CASE WHEN n.has_phone THEN phone_national SIMILAR TO '1[3-9][0-9]{9}'
            OR (NOT phone_intl AND phone_national SIMILAR TO '0[1-9][0-9]{8,10}')
            OR (phone_intl AND phone_national SIMILAR TO '[1-9][0-9]{8,10}') END AS phone_ok,
        CASE WHEN n.has_mobile THEN mobile_national SIMILAR TO '1[3-9][0-9]{9}' END AS mobile_ok
    FROM customer_number n
),
golden_system AS (
    SELECT golden_id, COUNT(DISTINCT source_name) AS systems
    FROM mdm.xref
    WHERE TRUE /* changed: golden_id */
    GROUP BY golden_id
)
SELECT
    c.source_name,
    c.stream,
    c.source_key,
    c.golden_id,
    CAST(g.systems AS INTEGER) AS golden_system_count,
    c.golden_id IS NOT NULL
        AND ROW_NUMBER() OVER (PARTITION BY c.golden_id, c.source_name, c.stream ORDER BY c.source_key) > 1
        AS is_duplicate_in_source,
    c.has_name,
    c.has_short_name,
    c.has_uscc,
    c.has_phone,
    c.has_mobile,
    c.has_email,
    c.has_address,
    c.has_contact_name,
    c.has_owner,
    c.has_customer_number,
    c.has_industry,
    c.has_channel,
    c.has_created_at,
    c.has_updated_at,
    c.uscc_ok AS uscc_valid,
    c.phone_ok AS phone_valid,
    c.mobile_ok AS mobile_valid,
    c.email_valid,
    c.owner_valid
FROM customer c
LEFT JOIN golden_system g ON g.golden_id = c.golden_id
