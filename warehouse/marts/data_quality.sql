-- Data quality per source stream and field. Stream measures (records, quarantined, matched, duplicates) repeat on
-- each field row of the stream. Validity rules: USCC check character (GB 32100: 18 characters, the last the check
-- of the first 17); phone: a mobile (1[3-9] + 9 digits) or a number with its area code (0 + 9 to 11 digits),
-- after removing separators, +86 and an extension; e-mail: text@text.text; a customer key must resolve to a
-- golden customer; a rep key or owner must resolve to a sales rep; an order's status must have a class (the
-- config's marts.order_status) and a fact's currency a rate (dim_fx_rate); a won or lost opportunity's close date
-- must be known, not before its creation and not after its last change (an expected date never updated).
WITH uscc_weight (i, w) AS (
    VALUES (1, 1), (2, 3), (3, 9), (4, 27), (5, 19), (6, 26), (7, 16), (8, 17), (9, 20), (10, 29), (11, 25),
           (12, 13), (13, 8), (14, 24), (15, 10), (16, 30), (17, 28)
),
uscc_code AS (
    SELECT source_name, stream, source_key, UPPER(REPLACE(REPLACE(TRIM(uscc), ' ', ''), '-', '')) AS code
    FROM staging.customer
    WHERE uscc IS NOT NULL
),
uscc_valid AS (
    SELECT
        u.source_name, u.stream, u.source_key,
        MIN(strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(u.code, w.i, 1))) > 0
        AND MIN(SUBSTR(u.code, 18, 1)) = SUBSTR('0123456789ABCDEFGHJKLMNPQRTUWXY', CAST(
            MOD(31 - MOD(SUM((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', SUBSTR(u.code, w.i, 1)) - 1) * w.w), 31), 31)
            + 1 AS INTEGER), 1) AS valid
    FROM uscc_code u
    CROSS JOIN uscc_weight w
    WHERE LENGTH(u.code) = 18
    GROUP BY u.source_name, u.stream, u.source_key
),
phone_value AS (
    SELECT source_name, stream, source_key, 'customer' AS entity, 'phone' AS field, phone AS value
    FROM staging.customer WHERE phone IS NOT NULL
    UNION ALL SELECT source_name, stream, source_key, 'customer', 'mobile', mobile
    FROM staging.customer WHERE mobile IS NOT NULL
    UNION ALL SELECT source_name, stream, source_key, 'contact', 'phone', phone
    FROM staging.contact WHERE phone IS NOT NULL
    UNION ALL SELECT source_name, stream, source_key, 'contact', 'mobile', mobile
    FROM staging.contact WHERE mobile IS NOT NULL
    UNION ALL SELECT source_name, stream, source_key, 'sales_rep', 'mobile', mobile
    FROM staging.sales_rep WHERE mobile IS NOT NULL
    UNION ALL SELECT source_name, stream, source_key, 'lead', 'phone', phone
    FROM staging.lead WHERE phone IS NOT NULL
),
phone_digits AS (
    SELECT
        source_name, stream, source_key, entity, field,
        regexp_replace(regexp_replace(value, '(转|分机|ext|EXT|Ext|x|X|#) *[0-9]+ *$', ''), '[^0-9]', '', 'g')
            AS digits
    FROM phone_value
),
phone_national AS (
    SELECT
        source_name, stream, source_key, entity, field,
        CASE
            WHEN digits LIKE '0086%' THEN SUBSTR(digits, 5)
            WHEN digits LIKE '86%' AND LENGTH(digits) >= 12 THEN SUBSTR(digits, 3)
            ELSE digits
        END AS national,
        digits LIKE '0086%' OR (digits LIKE '86%' AND LENGTH(digits) >= 12) AS international
    FROM phone_digits
),
phone_ok AS (
    SELECT
        source_name, stream, source_key, entity, field,
        national SIMILAR TO '1[3-9][0-9]{9}'
        OR (field = 'phone' AND NOT international AND national SIMILAR TO '0[1-9][0-9]{8,10}')
        OR (field = 'phone' AND international AND national SIMILAR TO '[1-9][0-9]{8,10}') AS valid
    FROM phone_national
),
customer AS (
    SELECT
        c.*,
        x.golden_id,
        COALESCE(v.valid, FALSE) AS uscc_ok,
        b.rep_id AS owner_rep_id,
        pp.valid AS phone_ok,
        pm.valid AS mobile_ok
    FROM staging.customer c
    LEFT JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream AND x.source_key = c.source_key
    LEFT JOIN uscc_valid v ON v.source_name = c.source_name AND v.stream = c.stream AND v.source_key = c.source_key
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = c.source_name AND b.rep_ref = c.owner
    LEFT JOIN phone_ok pp
        ON pp.entity = 'customer' AND pp.field = 'phone'
       AND pp.source_name = c.source_name AND pp.stream = c.stream AND pp.source_key = c.source_key
    LEFT JOIN phone_ok pm
        ON pm.entity = 'customer' AND pm.field = 'mobile'
       AND pm.source_name = c.source_name AND pm.stream = c.stream AND pm.source_key = c.source_key
),
-- One row per record and checked field: filled, and valid (null where no rule applies).
field_check AS (
    SELECT
        'customer' AS entity, c.source_name, c.stream, c.source_key, f.field,
        CASE f.field
            WHEN 'name' THEN c.name IS NOT NULL
            WHEN 'short_name' THEN c.short_name IS NOT NULL
            WHEN 'uscc' THEN c.uscc IS NOT NULL
            WHEN 'phone' THEN c.phone IS NOT NULL
            WHEN 'mobile' THEN c.mobile IS NOT NULL
            WHEN 'email' THEN c.email IS NOT NULL
            WHEN 'address' THEN c.address IS NOT NULL
            WHEN 'contact_name' THEN c.contact_name IS NOT NULL
            WHEN 'owner' THEN c.owner IS NOT NULL
            WHEN 'customer_number' THEN c.customer_number IS NOT NULL
            WHEN 'industry' THEN c.industry IS NOT NULL
            WHEN 'channel' THEN c.channel IS NOT NULL
            WHEN 'created_at' THEN c.created_at IS NOT NULL
            WHEN 'updated_at' THEN c.updated_at IS NOT NULL
        END AS filled,
        CASE f.field
            WHEN 'uscc' THEN CASE WHEN c.uscc IS NOT NULL THEN c.uscc_ok END
            WHEN 'phone' THEN c.phone_ok
            WHEN 'mobile' THEN c.mobile_ok
            WHEN 'email' THEN CASE WHEN c.email IS NOT NULL THEN c.email LIKE '%_@_%._%' END
            WHEN 'owner' THEN CASE WHEN c.owner IS NOT NULL THEN c.owner_rep_id IS NOT NULL END
        END AS valid
    FROM customer c
    CROSS JOIN (
        VALUES ('name'), ('short_name'), ('uscc'), ('phone'), ('mobile'), ('email'), ('address'), ('contact_name'),
               ('owner'), ('customer_number'), ('industry'), ('channel'), ('created_at'), ('updated_at')
    ) f (field)
    UNION ALL
    SELECT
        'contact', c.source_name, c.stream, c.source_key, f.field,
        CASE f.field
            WHEN 'name' THEN c.name IS NOT NULL
            WHEN 'customer_key' THEN c.customer_key IS NOT NULL
            WHEN 'customer_name' THEN c.customer_name IS NOT NULL
            WHEN 'phone' THEN c.phone IS NOT NULL
            WHEN 'mobile' THEN c.mobile IS NOT NULL
            WHEN 'email' THEN c.email IS NOT NULL
            WHEN 'position' THEN c.position IS NOT NULL
            WHEN 'owner' THEN c.owner IS NOT NULL
        END,
        CASE f.field
            WHEN 'customer_key' THEN CASE WHEN c.customer_key IS NOT NULL THEN x.golden_id IS NOT NULL END
            WHEN 'phone' THEN pp.valid
            WHEN 'mobile' THEN pm.valid
            WHEN 'email' THEN CASE WHEN c.email IS NOT NULL THEN c.email LIKE '%_@_%._%' END
            WHEN 'owner' THEN CASE WHEN c.owner IS NOT NULL THEN b.rep_id IS NOT NULL END
        END
    FROM staging.contact c
    LEFT JOIN mdm.xref x
        ON x.source_name = c.source_name AND x.stream = c.customer_stream AND x.source_key = c.customer_key
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = c.source_name AND b.rep_ref = c.owner
    LEFT JOIN phone_ok pp
        ON pp.entity = 'contact' AND pp.field = 'phone'
       AND pp.source_name = c.source_name AND pp.stream = c.stream AND pp.source_key = c.source_key
    LEFT JOIN phone_ok pm
        ON pm.entity = 'contact' AND pm.field = 'mobile'
       AND pm.source_name = c.source_name AND pm.stream = c.stream AND pm.source_key = c.source_key
    CROSS JOIN (
        VALUES ('name'), ('customer_key'), ('customer_name'), ('phone'), ('mobile'), ('email'), ('position'), ('owner')
    ) f (field)
    UNION ALL
    SELECT
        'sales_rep', r.source_name, r.stream, r.source_key, f.field,
        CASE f.field
            WHEN 'name' THEN r.name IS NOT NULL
            WHEN 'team' THEN r.team IS NOT NULL
            WHEN 'region' THEN r.region IS NOT NULL
            WHEN 'email' THEN r.email IS NOT NULL
            WHEN 'mobile' THEN r.mobile IS NOT NULL
            WHEN 'userid' THEN r.userid IS NOT NULL
        END,
        CASE f.field
            WHEN 'email' THEN CASE WHEN r.email IS NOT NULL THEN r.email LIKE '%_@_%._%' END
            WHEN 'mobile' THEN pm.valid
        END
    FROM staging.sales_rep r
    LEFT JOIN phone_ok pm
        ON pm.entity = 'sales_rep' AND pm.field = 'mobile'
       AND pm.source_name = r.source_name AND pm.stream = r.stream AND pm.source_key = r.source_key
    CROSS JOIN (VALUES ('name'), ('team'), ('region'), ('email'), ('mobile'), ('userid')) f (field)
    UNION ALL
    SELECT
        'sales_order', o.source_name, o.stream, o.order_key, f.field,
        CASE f.field WHEN 'customer_key' THEN TRUE WHEN 'rep_key' THEN o.rep_key IS NOT NULL
                     WHEN 'status' THEN o.status IS NOT NULL WHEN 'currency' THEN TRUE END,
        CASE f.field WHEN 'customer_key' THEN o.golden_id IS NOT NULL
                     WHEN 'rep_key' THEN CASE WHEN o.rep_key IS NOT NULL THEN o.rep_id IS NOT NULL END
                     WHEN 'status' THEN CASE WHEN o.status IS NOT NULL THEN o.status_class <> 'unknown' END
                     WHEN 'currency' THEN o.fx_rate IS NOT NULL END
    FROM marts.fct_sales_orders o
    CROSS JOIN (VALUES ('customer_key'), ('rep_key'), ('status'), ('currency')) f (field)
    UNION ALL
    SELECT
        'payment', p.source_name, p.stream, p.payment_key, f.field,
        CASE f.field WHEN 'customer_key' THEN TRUE WHEN 'order_number' THEN p.order_number IS NOT NULL
                     WHEN 'receivable_number' THEN p.receivable_number IS NOT NULL
                     WHEN 'rep_key' THEN p.rep_key IS NOT NULL WHEN 'currency' THEN TRUE END,
        CASE f.field WHEN 'customer_key' THEN p.golden_id IS NOT NULL
                     WHEN 'order_number' THEN CASE WHEN p.order_number IS NOT NULL THEN p.order_key IS NOT NULL END
                     WHEN 'rep_key' THEN CASE WHEN p.rep_key IS NOT NULL THEN p.rep_id IS NOT NULL END
                     WHEN 'currency' THEN p.fx_rate IS NOT NULL END
    FROM marts.fct_payments p
    CROSS JOIN (VALUES ('customer_key'), ('order_number'), ('receivable_number'), ('rep_key'), ('currency')) f (field)
    UNION ALL
    SELECT
        'receivable', r.source_name, r.stream, r.source_key, f.field,
        CASE f.field WHEN 'customer_key' THEN TRUE WHEN 'order_number' THEN r.order_number IS NOT NULL
                     WHEN 'due_date' THEN r.due_date IS NOT NULL END,
        CASE WHEN f.field = 'customer_key' THEN x.golden_id IS NOT NULL END
    FROM staging.receivable r
    LEFT JOIN mdm.xref x
        ON x.source_name = r.source_name AND x.stream = r.customer_stream AND x.source_key = r.customer_key
    CROSS JOIN (VALUES ('customer_key'), ('order_number'), ('due_date')) f (field)
    UNION ALL
    SELECT
        'opportunity', o.source_name, o.stream, o.opportunity_key, f.field,
        CASE f.field WHEN 'customer_key' THEN o.customer_key IS NOT NULL WHEN 'owner' THEN o.owner IS NOT NULL
                     WHEN 'amount' THEN o.amount IS NOT NULL WHEN 'status' THEN o.status IS NOT NULL
                     WHEN 'closed_at' THEN so.closed_at IS NOT NULL WHEN 'currency' THEN o.amount IS NOT NULL END,
        CASE f.field WHEN 'customer_key' THEN CASE WHEN o.customer_key IS NOT NULL THEN o.golden_id IS NOT NULL END
                     WHEN 'owner' THEN CASE WHEN o.owner IS NOT NULL THEN o.rep_id IS NOT NULL END
                     -- won or lost: closed on a known date, not before creation nor after the last change
                     WHEN 'closed_at' THEN CASE WHEN o.outcome <> 'open' THEN COALESCE(
                         so.closed_at >= so.created_at AND CAST(so.closed_at AS DATE)
                             <= CAST(COALESCE(so.updated_at, so._extracted_at, CURRENT_TIMESTAMP) AS DATE), FALSE) END
                     WHEN 'currency' THEN CASE WHEN o.amount IS NOT NULL THEN o.fx_rate IS NOT NULL END END
    FROM marts.fct_opportunities o
    JOIN staging.opportunity so
        ON so.source_name = o.source_name AND so.stream = o.stream AND so.source_key = o.opportunity_key
    CROSS JOIN (VALUES ('customer_key'), ('owner'), ('amount'), ('status'), ('closed_at'), ('currency')) f (field)
    UNION ALL
    SELECT
        'lead', l.source_name, l.stream, l.lead_key, f.field,
        CASE f.field WHEN 'company_name' THEN l.company_name IS NOT NULL WHEN 'phone' THEN l.phone IS NOT NULL
                     WHEN 'channel' THEN l.channel <> '(unknown)' WHEN 'owner' THEN l.owner IS NOT NULL END,
        CASE f.field
            WHEN 'owner' THEN CASE WHEN l.owner IS NOT NULL THEN l.rep_id IS NOT NULL END
            WHEN 'phone' THEN pp.valid
        END
    FROM marts.fct_leads l
    LEFT JOIN phone_ok pp
        ON pp.entity = 'lead' AND pp.field = 'phone'
       AND pp.source_name = l.source_name AND pp.stream = l.stream AND pp.source_key = l.lead_key
    CROSS JOIN (VALUES ('company_name'), ('phone'), ('channel'), ('owner')) f (field)
    UNION ALL
    SELECT
        'target', t.source_name, t.stream, t.source_key, f.field,
        CASE f.field WHEN 'rep_key' THEN t.rep_key IS NOT NULL WHEN 'team' THEN t.team IS NOT NULL END,
        CASE WHEN f.field = 'rep_key' AND t.rep_key IS NOT NULL THEN b.rep_id IS NOT NULL END
    FROM staging.target t
    LEFT JOIN marts.bridge_sales_rep b ON b.source_name = t.source_name AND b.rep_ref = t.rep_key
    CROSS JOIN (VALUES ('rep_key'), ('team')) f (field)
    UNION ALL
    SELECT 'channel_cost', k.source_name, k.stream, k.source_key, 'month', k.month IS NOT NULL, NULL
    FROM staging.channel_cost k
),
field_stat AS (
    SELECT
        entity, source_name, stream, field,
        COUNT(*) FILTER (WHERE filled) AS filled,
        COUNT(valid) AS checked,
        COUNT(*) FILTER (WHERE valid) AS valid
    FROM field_check
    GROUP BY entity, source_name, stream, field
),
staged AS (
    SELECT 'customer' AS entity, source_name, stream, COUNT(*) AS staged FROM staging.customer GROUP BY 2, 3
    UNION ALL SELECT 'contact', source_name, stream, COUNT(*) FROM staging.contact GROUP BY 2, 3
    UNION ALL SELECT 'sales_rep', source_name, stream, COUNT(*) FROM staging.sales_rep GROUP BY 2, 3
    UNION ALL SELECT 'sales_order', source_name, stream, COUNT(*) FROM staging.sales_order GROUP BY 2, 3
    UNION ALL SELECT 'payment', source_name, stream, COUNT(*) FROM staging.payment GROUP BY 2, 3
    UNION ALL SELECT 'receivable', source_name, stream, COUNT(*) FROM staging.receivable GROUP BY 2, 3
    UNION ALL SELECT 'opportunity', source_name, stream, COUNT(*) FROM staging.opportunity GROUP BY 2, 3
    UNION ALL SELECT 'lead', source_name, stream, COUNT(*) FROM staging.lead GROUP BY 2, 3
    UNION ALL SELECT 'target', source_name, stream, COUNT(*) FROM staging.target GROUP BY 2, 3
    UNION ALL SELECT 'channel_cost', source_name, stream, COUNT(*) FROM staging.channel_cost GROUP BY 2, 3
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
golden_system AS (
    SELECT golden_id, COUNT(DISTINCT source_name) AS systems
    FROM mdm.xref
    GROUP BY golden_id
),
customer_match AS (
    SELECT
        c.source_name,
        c.stream,
        COUNT(*) FILTER (WHERE g.systems > 1) AS matched_other_system,
        COUNT(c.golden_id) - COUNT(DISTINCT c.golden_id) AS duplicates_in_source
    FROM customer c
    LEFT JOIN golden_system g ON g.golden_id = c.golden_id
    GROUP BY c.source_name, c.stream
),
stream AS (
    SELECT s.entity, s.source_name, s.stream, s.staged, q.rejected, q.refused_at_landing, q.fields_nulled
    FROM staged s
    LEFT JOIN quarantine q ON q.source_name = s.source_name AND q.stream = s.stream
    UNION ALL  -- streams of which every record was refused
    SELECT NULL, q.source_name, q.stream, 0, q.rejected, q.refused_at_landing, q.fields_nulled
    FROM quarantine q
    WHERE NOT EXISTS (SELECT 1 FROM staged s WHERE s.source_name = q.source_name AND s.stream = q.stream)
)
SELECT
    s.source_name,
    s.stream,
    s.entity,
    CAST(s.staged + COALESCE(s.rejected, 0) AS BIGINT) AS records,
    CAST(s.staged AS BIGINT) AS staged,
    CAST(COALESCE(s.rejected, 0) + COALESCE(s.refused_at_landing, 0) AS BIGINT) AS quarantined,
    CAST(COALESCE(s.fields_nulled, 0) AS BIGINT) AS fields_nulled,
    CAST(CAST(m.matched_other_system AS DECIMAL(18, 2)) * 100 / NULLIF(s.staged, 0) AS DECIMAL(9, 2))
        AS matched_other_system_pct,
    CAST(m.duplicates_in_source AS BIGINT) AS duplicates_in_source,
    f.field,
    CAST(f.filled AS BIGINT) AS filled,
    CAST(CAST(f.filled AS DECIMAL(18, 2)) * 100 / NULLIF(s.staged, 0) AS DECIMAL(9, 2)) AS completeness_pct,
    CAST(f.checked AS BIGINT) AS checked,
    CAST(CASE WHEN f.checked > 0 THEN f.valid END AS BIGINT) AS valid,
    CAST(CAST(f.valid AS DECIMAL(18, 2)) * 100 / NULLIF(f.checked, 0) AS DECIMAL(9, 2)) AS validity_pct
FROM stream s
LEFT JOIN field_stat f ON f.source_name = s.source_name AND f.stream = s.stream
LEFT JOIN customer_match m ON m.source_name = s.source_name AND m.stream = s.stream
