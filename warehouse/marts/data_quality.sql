-- Data quality per source stream and field. Stream measures (records, quarantined, deleted, matched, duplicates)
-- repeat on each field row of the stream. Validity rules: USCC check character (GB 32100: 18 characters of the code's set,
-- the last the check of the first 17); phone: a mobile (1[3-9] + 9 digits) or a number with its area code (0 + 9
-- to 11 digits), after removing separators, +86 and an extension; e-mail: text@text.text; a customer key must
-- resolve to a golden customer; a rep key or owner must resolve to a sales rep; an order's status must have a
-- class (the config's marts.order_status) and a fact's currency a rate (dim_fx_rate); a won or lost
-- opportunity's close date must be known, not before its creation and not after its last change (an expected
-- date never updated).
--
-- Each table is read once: a record's checks are columns, counted per stream in one pass (filled: f_<field>,
-- checked and valid: c_ and v_), and only the per-stream counts become one row per field. The customer records'
-- checks come from marts.customer_record_quality (refreshed for the changed golden customers only).
WITH customer_stat AS (  -- a customer record's checks are columns of marts.customer_record_quality
    SELECT
        'customer' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(*) FILTER (WHERE golden_system_count > 1) AS matched_other_system,
        COUNT(*) FILTER (WHERE is_duplicate_in_source) AS duplicates_in_source,
        COUNT(*) FILTER (WHERE has_name) AS f_name, COUNT(*) FILTER (WHERE has_short_name) AS f_short_name,
        COUNT(*) FILTER (WHERE has_uscc) AS f_uscc, COUNT(*) FILTER (WHERE has_phone) AS f_phone,
        COUNT(*) FILTER (WHERE has_mobile) AS f_mobile, COUNT(*) FILTER (WHERE has_email) AS f_email,
        COUNT(*) FILTER (WHERE has_address) AS f_address, COUNT(*) FILTER (WHERE has_contact_name) AS f_contact_name,
        COUNT(*) FILTER (WHERE has_owner) AS f_owner, COUNT(*) FILTER (WHERE has_customer_number) AS f_customer_number,
        COUNT(*) FILTER (WHERE has_industry) AS f_industry, COUNT(*) FILTER (WHERE has_channel) AS f_channel,
        COUNT(*) FILTER (WHERE has_created_at) AS f_created_at, COUNT(*) FILTER (WHERE has_updated_at) AS f_updated_at,
        COUNT(*) FILTER (WHERE uscc_valid) AS v_uscc,
        COUNT(phone_valid) AS c_phone, COUNT(*) FILTER (WHERE phone_valid) AS v_phone,
        COUNT(mobile_valid) AS c_mobile, COUNT(*) FILTER (WHERE mobile_valid) AS v_mobile,
        COUNT(*) FILTER (WHERE email_valid) AS v_email,
        COUNT(*) FILTER (WHERE owner_valid) AS v_owner
    FROM marts.customer_record_quality
    GROUP BY source_name, stream
),
contact AS (
    SELECT
        n.*,
        CASE WHEN n.phone IS NOT NULL THEN phone_national SIMILAR TO '1[3-9][0-9]{9}'
            OR (NOT phone_intl AND phone_national SIMILAR TO '0[1-9][0-9]{8,10}')
            OR (phone_intl AND phone_national SIMILAR TO '[1-9][0-9]{8,10}') END AS phone_ok,
        CASE WHEN n.mobile IS NOT NULL THEN mobile_national SIMILAR TO '1[3-9][0-9]{9}' END AS mobile_ok
    FROM (
        SELECT
            d.*,
            CASE WHEN phone_digits LIKE '0086%' THEN SUBSTR(phone_digits, 5) WHEN phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12 THEN SUBSTR(phone_digits, 3) ELSE phone_digits END AS phone_national,
        phone_digits LIKE '0086%' OR (phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12) AS phone_intl,
            CASE WHEN mobile_digits LIKE '0086%' THEN SUBSTR(mobile_digits, 5) WHEN mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12 THEN SUBSTR(mobile_digits, 3) ELSE mobile_digits END AS mobile_national,
        mobile_digits LIKE '0086%' OR (mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12) AS mobile_intl
        FROM (
            SELECT
                c.source_name, c.stream, c.name, c.customer_key, c.customer_name, c.phone, c.mobile, c.email,
                c.position, c.owner, x.golden_id, b.rep_id AS owner_rep_id,
                regexp_replace(regexp_replace(c.phone, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS phone_digits,
                regexp_replace(regexp_replace(c.mobile, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS mobile_digits
            FROM staging.contact c
            LEFT JOIN mdm.xref x
                ON x.source_name = c.source_name AND x.stream = c.customer_stream AND x.source_key = c.customer_key
            LEFT JOIN marts.bridge_sales_rep b ON b.source_name = c.source_name AND b.rep_ref = c.owner
        ) d
    ) n
),
contact_stat AS (
    SELECT
        'contact' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(name) AS f_name, COUNT(customer_key) AS f_customer_key, COUNT(customer_name) AS f_customer_name,
        COUNT(phone) AS f_phone, COUNT(mobile) AS f_mobile, COUNT(email) AS f_email, COUNT(position) AS f_position,
        COUNT(owner) AS f_owner,
        COUNT(*) FILTER (WHERE customer_key IS NOT NULL AND golden_id IS NOT NULL) AS v_customer_key,
        COUNT(phone_ok) AS c_phone, COUNT(*) FILTER (WHERE phone_ok) AS v_phone,
        COUNT(mobile_ok) AS c_mobile, COUNT(*) FILTER (WHERE mobile_ok) AS v_mobile,
        COUNT(*) FILTER (WHERE email LIKE '%_@_%._%') AS v_email,
        COUNT(*) FILTER (WHERE owner IS NOT NULL AND owner_rep_id IS NOT NULL) AS v_owner
    FROM contact
    GROUP BY source_name, stream
),
rep_stat AS (
    SELECT
        'sales_rep' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(name) AS f_name, COUNT(team) AS f_team, COUNT(region) AS f_region, COUNT(email) AS f_email,
        COUNT(mobile) AS f_mobile, COUNT(userid) AS f_userid,
        COUNT(*) FILTER (WHERE email LIKE '%_@_%._%') AS v_email,
        COUNT(*) FILTER (WHERE mobile_national SIMILAR TO '1[3-9][0-9]{9}') AS v_mobile
    FROM (
        SELECT d.*, CASE WHEN mobile_digits LIKE '0086%' THEN SUBSTR(mobile_digits, 5) WHEN mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12 THEN SUBSTR(mobile_digits, 3) ELSE mobile_digits END AS mobile_national,
        mobile_digits LIKE '0086%' OR (mobile_digits LIKE '86%' AND LENGTH(mobile_digits) >= 12) AS mobile_intl
        FROM (
            SELECT source_name, stream, name, team, region, email, mobile, userid,
                   regexp_replace(regexp_replace(mobile, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS mobile_digits
            FROM staging.sales_rep
        ) d
    ) r
    GROUP BY source_name, stream
),
order_stat AS (
    SELECT
        'sales_order' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(rep_key) AS f_rep_key, COUNT(status) AS f_status,
        COUNT(golden_id) AS v_customer_key,
        COUNT(*) FILTER (WHERE rep_key IS NOT NULL AND rep_id IS NOT NULL) AS v_rep_key,
        COUNT(*) FILTER (WHERE status IS NOT NULL AND status_class <> 'unknown') AS v_status,
        COUNT(fx_rate) AS v_currency
    FROM marts.fct_sales_orders
    GROUP BY source_name, stream
),
payment_stat AS (
    SELECT
        'payment' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(order_number) AS f_order_number, COUNT(receivable_number) AS f_receivable_number,
        COUNT(rep_key) AS f_rep_key,
        COUNT(golden_id) AS v_customer_key,
        COUNT(*) FILTER (WHERE order_number IS NOT NULL AND order_key IS NOT NULL) AS v_order_number,
        COUNT(*) FILTER (WHERE rep_key IS NOT NULL AND rep_id IS NOT NULL) AS v_rep_key,
        COUNT(fx_rate) AS v_currency
    FROM marts.fct_payments
    GROUP BY source_name, stream
),
receivable_stat AS (
    SELECT
        'receivable' AS entity, r.source_name, r.stream, COUNT(*) AS staged,
        COUNT(r.order_number) AS f_order_number, COUNT(r.due_date) AS f_due_date,
        COUNT(x.golden_id) AS v_customer_key
    FROM staging.receivable r
    LEFT JOIN mdm.xref x
        ON x.source_name = r.source_name AND x.stream = r.customer_stream AND x.source_key = r.customer_key
    GROUP BY r.source_name, r.stream
),
opportunity_stat AS (
    SELECT
        'opportunity' AS entity, o.source_name, o.stream, COUNT(*) AS staged,
        COUNT(o.customer_key) AS f_customer_key, COUNT(o.owner) AS f_owner, COUNT(o.amount) AS f_amount,
        COUNT(o.status) AS f_status, COUNT(so.closed_at) AS f_closed_at,
        COUNT(*) FILTER (WHERE o.customer_key IS NOT NULL AND o.golden_id IS NOT NULL) AS v_customer_key,
        COUNT(*) FILTER (WHERE o.owner IS NOT NULL AND o.rep_id IS NOT NULL) AS v_owner,
        -- won or lost: closed on a known date, not before creation nor after the last change
        COUNT(*) FILTER (WHERE o.outcome <> 'open') AS c_closed_at,
        COUNT(*) FILTER (WHERE o.outcome <> 'open' AND so.closed_at >= so.created_at
                         AND CAST(so.closed_at AS DATE)
                             <= CAST(COALESCE(so.updated_at, so._extracted_at, CURRENT_TIMESTAMP) AS DATE))
            AS v_closed_at,
        COUNT(*) FILTER (WHERE o.amount IS NOT NULL AND o.fx_rate IS NOT NULL) AS v_currency
    FROM marts.fct_opportunities o
    JOIN staging.opportunity so
        ON so.source_name = o.source_name AND so.stream = o.stream AND so.source_key = o.opportunity_key
    GROUP BY o.source_name, o.stream
),
lead_stat AS (
    SELECT
        'lead' AS entity, source_name, stream, COUNT(*) AS staged,
        COUNT(company_name) AS f_company_name, COUNT(phone) AS f_phone,
        COUNT(*) FILTER (WHERE channel <> '(unknown)') AS f_channel, COUNT(owner) AS f_owner,
        COUNT(*) FILTER (WHERE owner IS NOT NULL AND rep_id IS NOT NULL) AS v_owner,
        COUNT(phone_ok) AS c_phone, COUNT(*) FILTER (WHERE phone_ok) AS v_phone
    FROM (
        SELECT n.*, CASE WHEN n.phone IS NOT NULL THEN phone_national SIMILAR TO '1[3-9][0-9]{9}'
            OR (NOT phone_intl AND phone_national SIMILAR TO '0[1-9][0-9]{8,10}')
            OR (phone_intl AND phone_national SIMILAR TO '[1-9][0-9]{8,10}') END AS phone_ok
        FROM (
            SELECT d.*, CASE WHEN phone_digits LIKE '0086%' THEN SUBSTR(phone_digits, 5) WHEN phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12 THEN SUBSTR(phone_digits, 3) ELSE phone_digits END AS phone_national,
        phone_digits LIKE '0086%' OR (phone_digits LIKE '86%' AND LENGTH(phone_digits) >= 12) AS phone_intl
            FROM (
                SELECT source_name, stream, company_name, phone, channel, owner, rep_id,
                       regexp_replace(regexp_replace(phone, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g') AS phone_digits
                FROM marts.fct_leads
            ) d
        ) n
    ) l
    GROUP BY source_name, stream
),
target_stat AS (
    SELECT
        'target' AS entity, t.source_name, t.stream, COUNT(*) AS staged,
        COUNT(t.rep_key) AS f_rep_key, COUNT(t.team) AS f_team,
        COUNT(*) FILTER (WHERE t.rep_key IS NOT NULL AND b.rep_id IS NOT NULL) AS v_rep_key
    FROM staging.target t
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = t.source_name AND b.rep_ref = t.rep_key
    GROUP BY t.source_name, t.stream
),
cost_stat AS (
    SELECT 'channel_cost' AS entity, source_name, stream, COUNT(*) AS staged, COUNT(month) AS f_month
    FROM staging.channel_cost
    GROUP BY source_name, stream
),
-- one row per stream and checked field: filled, checked (values a rule applies to) and valid
field_stat AS (
    SELECT s.entity, s.source_name, s.stream, s.staged, s.matched_other_system, s.duplicates_in_source, f.field,
        CASE f.field
            WHEN 'name' THEN f_name WHEN 'short_name' THEN f_short_name WHEN 'uscc' THEN f_uscc
            WHEN 'phone' THEN f_phone WHEN 'mobile' THEN f_mobile WHEN 'email' THEN f_email
            WHEN 'address' THEN f_address WHEN 'contact_name' THEN f_contact_name WHEN 'owner' THEN f_owner
            WHEN 'customer_number' THEN f_customer_number WHEN 'industry' THEN f_industry
            WHEN 'channel' THEN f_channel WHEN 'created_at' THEN f_created_at WHEN 'updated_at' THEN f_updated_at
        END AS filled,
        CASE f.field WHEN 'uscc' THEN f_uscc WHEN 'phone' THEN c_phone WHEN 'mobile' THEN c_mobile
                     WHEN 'email' THEN f_email WHEN 'owner' THEN f_owner ELSE 0 END AS checked,
        CASE f.field WHEN 'uscc' THEN v_uscc WHEN 'phone' THEN v_phone WHEN 'mobile' THEN v_mobile
                     WHEN 'email' THEN v_email WHEN 'owner' THEN v_owner ELSE 0 END AS valid
    FROM customer_stat s
    CROSS JOIN (
        VALUES ('name'), ('short_name'), ('uscc'), ('phone'), ('mobile'), ('email'), ('address'), ('contact_name'),
               ('owner'), ('customer_number'), ('industry'), ('channel'), ('created_at'), ('updated_at')
    ) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field
            WHEN 'name' THEN f_name WHEN 'customer_key' THEN f_customer_key WHEN 'customer_name' THEN f_customer_name
            WHEN 'phone' THEN f_phone WHEN 'mobile' THEN f_mobile WHEN 'email' THEN f_email
            WHEN 'position' THEN f_position WHEN 'owner' THEN f_owner
        END,
        CASE f.field WHEN 'customer_key' THEN f_customer_key WHEN 'phone' THEN c_phone WHEN 'mobile' THEN c_mobile
                     WHEN 'email' THEN f_email WHEN 'owner' THEN f_owner ELSE 0 END,
        CASE f.field WHEN 'customer_key' THEN v_customer_key WHEN 'phone' THEN v_phone WHEN 'mobile' THEN v_mobile
                     WHEN 'email' THEN v_email WHEN 'owner' THEN v_owner ELSE 0 END
    FROM contact_stat s
    CROSS JOIN (
        VALUES ('name'), ('customer_key'), ('customer_name'), ('phone'), ('mobile'), ('email'), ('position'), ('owner')
    ) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'name' THEN f_name WHEN 'team' THEN f_team WHEN 'region' THEN f_region
                     WHEN 'email' THEN f_email WHEN 'mobile' THEN f_mobile WHEN 'userid' THEN f_userid END,
        CASE f.field WHEN 'email' THEN f_email WHEN 'mobile' THEN f_mobile ELSE 0 END,
        CASE f.field WHEN 'email' THEN v_email WHEN 'mobile' THEN v_mobile ELSE 0 END
    FROM rep_stat s
    CROSS JOIN (VALUES ('name'), ('team'), ('region'), ('email'), ('mobile'), ('userid')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'customer_key' THEN staged WHEN 'rep_key' THEN f_rep_key WHEN 'status' THEN f_status
                     WHEN 'currency' THEN staged END,
        CASE f.field WHEN 'customer_key' THEN staged WHEN 'rep_key' THEN f_rep_key WHEN 'status' THEN f_status
                     WHEN 'currency' THEN staged END,
        CASE f.field WHEN 'customer_key' THEN v_customer_key WHEN 'rep_key' THEN v_rep_key WHEN 'status' THEN v_status
                     WHEN 'currency' THEN v_currency END
    FROM order_stat s
    CROSS JOIN (VALUES ('customer_key'), ('rep_key'), ('status'), ('currency')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'customer_key' THEN staged WHEN 'order_number' THEN f_order_number
                     WHEN 'receivable_number' THEN f_receivable_number WHEN 'rep_key' THEN f_rep_key
                     WHEN 'currency' THEN staged END,
        CASE f.field WHEN 'customer_key' THEN staged WHEN 'order_number' THEN f_order_number
                     WHEN 'rep_key' THEN f_rep_key WHEN 'currency' THEN staged ELSE 0 END,
        CASE f.field WHEN 'customer_key' THEN v_customer_key WHEN 'order_number' THEN v_order_number
                     WHEN 'rep_key' THEN v_rep_key WHEN 'currency' THEN v_currency ELSE 0 END
    FROM payment_stat s
    CROSS JOIN (VALUES ('customer_key'), ('order_number'), ('receivable_number'), ('rep_key'), ('currency')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'customer_key' THEN staged WHEN 'order_number' THEN f_order_number
                     WHEN 'due_date' THEN f_due_date END,
        CASE f.field WHEN 'customer_key' THEN staged ELSE 0 END,
        CASE f.field WHEN 'customer_key' THEN v_customer_key ELSE 0 END
    FROM receivable_stat s
    CROSS JOIN (VALUES ('customer_key'), ('order_number'), ('due_date')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'customer_key' THEN f_customer_key WHEN 'owner' THEN f_owner WHEN 'amount' THEN f_amount
                     WHEN 'status' THEN f_status WHEN 'closed_at' THEN f_closed_at WHEN 'currency' THEN f_amount END,
        CASE f.field WHEN 'customer_key' THEN f_customer_key WHEN 'owner' THEN f_owner
                     WHEN 'closed_at' THEN c_closed_at WHEN 'currency' THEN f_amount ELSE 0 END,
        CASE f.field WHEN 'customer_key' THEN v_customer_key WHEN 'owner' THEN v_owner
                     WHEN 'closed_at' THEN v_closed_at WHEN 'currency' THEN v_currency ELSE 0 END
    FROM opportunity_stat s
    CROSS JOIN (VALUES ('customer_key'), ('owner'), ('amount'), ('status'), ('closed_at'), ('currency')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'company_name' THEN f_company_name WHEN 'phone' THEN f_phone WHEN 'channel' THEN f_channel
                     WHEN 'owner' THEN f_owner END,
        CASE f.field WHEN 'phone' THEN c_phone WHEN 'owner' THEN f_owner ELSE 0 END,
        CASE f.field WHEN 'phone' THEN v_phone WHEN 'owner' THEN v_owner ELSE 0 END
    FROM lead_stat s
    CROSS JOIN (VALUES ('company_name'), ('phone'), ('channel'), ('owner')) f (field)
    UNION ALL
    SELECT s.entity, s.source_name, s.stream, s.staged, NULL, NULL, f.field,
        CASE f.field WHEN 'rep_key' THEN f_rep_key WHEN 'team' THEN f_team END,
        CASE f.field WHEN 'rep_key' THEN f_rep_key ELSE 0 END,
        CASE f.field WHEN 'rep_key' THEN v_rep_key ELSE 0 END
    FROM target_stat s
    CROSS JOIN (VALUES ('rep_key'), ('team')) f (field)
    UNION ALL
    SELECT entity, source_name, stream, staged, NULL, NULL, 'month', f_month, 0, 0
    FROM cost_stat
),
quarantine AS (
    SELECT
        source AS source_name,
        stream,
        COUNT(DISTINCT CASE WHEN stage = 'staging' AND action = 'rejected' THEN record_key END) AS rejected,
        COUNT(*) FILTER (WHERE stage <> 'staging' AND action = 'rejected') AS refused_at_landing,
        COUNT(*) FILTER (WHERE action = 'field_nulled') AS fields_nulled
    FROM raw._quarantine
    GROUP BY source, stream
),
deleted AS (  -- records deleted in the source (tombstoned in raw, or soft-deleted) and not back since
    SELECT source_name, stream, MIN(entity) AS entity, COUNT(*) AS deleted
    FROM staging._deleted
    GROUP BY source_name, stream
),
stream_row AS (
    SELECT f.*, q.rejected, q.refused_at_landing, q.fields_nulled, d.deleted
    FROM field_stat f
    LEFT JOIN quarantine q ON q.source_name = f.source_name AND q.stream = f.stream
    LEFT JOIN deleted d ON d.source_name = f.source_name AND d.stream = f.stream
    UNION ALL  -- streams of which every record was refused or deleted
    SELECT d.entity, COALESCE(q.source_name, d.source_name), COALESCE(q.stream, d.stream), 0, NULL, NULL, NULL, NULL,
           NULL, NULL, q.rejected, q.refused_at_landing, q.fields_nulled, d.deleted
    FROM quarantine q
    FULL OUTER JOIN deleted d ON d.source_name = q.source_name AND d.stream = q.stream
    LEFT JOIN (SELECT DISTINCT source_name, stream FROM field_stat) s
        ON s.source_name = COALESCE(q.source_name, d.source_name) AND s.stream = COALESCE(q.stream, d.stream)
    WHERE s.stream IS NULL
)
SELECT
    source_name,
    stream,
    entity,
    CAST(staged + COALESCE(rejected, 0) AS BIGINT) AS records,
    CAST(staged AS BIGINT) AS staged,
    CAST(COALESCE(rejected, 0) + COALESCE(refused_at_landing, 0) AS BIGINT) AS quarantined,
    CAST(COALESCE(deleted, 0) AS BIGINT) AS deleted,
    CAST(COALESCE(fields_nulled, 0) AS BIGINT) AS fields_nulled,
    CAST(CAST(matched_other_system AS DECIMAL(18, 2)) * 100 / NULLIF(staged, 0) AS DECIMAL(9, 2))
        AS matched_other_system_pct,
    CAST(duplicates_in_source AS BIGINT) AS duplicates_in_source,
    field,
    CAST(filled AS BIGINT) AS filled,
    CAST(CAST(filled AS DECIMAL(18, 2)) * 100 / NULLIF(staged, 0) AS DECIMAL(9, 2)) AS completeness_pct,
    CAST(checked AS BIGINT) AS checked,
    CAST(CASE WHEN checked > 0 THEN valid END AS BIGINT) AS valid,
    CAST(CAST(valid AS DECIMAL(18, 2)) * 100 / NULLIF(checked, 0) AS DECIMAL(9, 2)) AS validity_pct
FROM stream_row
