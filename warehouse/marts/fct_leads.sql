-- One row per lead, with its channel, its rep, the opportunity it became and its golden customer (its own
-- customer_key, else the opportunity's). The opportunity, in the lead's source: the lead's own opportunity_key,
-- else the earliest naming it as lead_key, else, for a lead converted to a customer, the customer's earliest
-- opportunity created on or after the lead (CRMs that link a converted lead only to its account). Several leads
-- may lead to one opportunity: its amount and channel are credited to the earliest of them only. A lead is open
-- while neither converted nor closed (closed, disqualified, invalid, 关闭, 已关闭, 无效).
WITH opportunity_by_lead AS (
    SELECT
        source_name, lead_key, opportunity_key,
        ROW_NUMBER() OVER (PARTITION BY source_name, lead_key ORDER BY created_at, opportunity_key) AS rn
    FROM marts.fct_opportunities
    WHERE lead_key IS NOT NULL
),
opportunity_once AS (
    SELECT
        source_name, opportunity_key, golden_id,
        ROW_NUMBER() OVER (PARTITION BY source_name, opportunity_key ORDER BY stream) AS rn
    FROM marts.fct_opportunities
),
opportunity_by_customer AS (
    SELECT
        l.source_name, l.source_key AS lead_key, o.opportunity_key,
        ROW_NUMBER() OVER (PARTITION BY l.source_name, l.source_key ORDER BY o.created_at, o.opportunity_key) AS rn
    FROM staging.lead l
    JOIN mdm.xref x
        ON x.source_name = l.source_name AND x.stream = l.customer_stream AND x.source_key = l.customer_key
    JOIN marts.fct_opportunities o
        ON o.source_name = l.source_name AND o.golden_id = x.golden_id AND o.created_at >= l.created_at
),
lead AS (
    SELECT
        l.*,
        COALESCE(l.opportunity_key, ol.opportunity_key, oc.opportunity_key) AS linked_opportunity,
        CASE
            WHEN l.opportunity_key IS NOT NULL THEN 'lead'
            WHEN ol.opportunity_key IS NOT NULL THEN 'opportunity'
            WHEN oc.opportunity_key IS NOT NULL THEN 'customer'
        END AS opportunity_link
    FROM staging.lead l
    LEFT JOIN opportunity_by_lead ol ON ol.source_name = l.source_name AND ol.lead_key = l.source_key AND ol.rn = 1
    LEFT JOIN opportunity_by_customer oc
        ON oc.source_name = l.source_name AND oc.lead_key = l.source_key AND oc.rn = 1
)
SELECT
    l.source_name,
    l.stream,
    l.source_key AS lead_key,
    l.company_name,
    l.contact_name,
    l.phone,
    COALESCE(NULLIF(TRIM(l.channel), ''), '(unknown)') AS channel,
    l.status,
    (l.converted_at IS NOT NULL OR l.linked_opportunity IS NOT NULL OR l.customer_key IS NOT NULL
     OR COALESCE(LOWER(TRIM(l.status)), '') IN ('converted', 'transformed', '已转化', '已转换')) AS is_converted,
    NOT (l.converted_at IS NOT NULL OR l.linked_opportunity IS NOT NULL OR l.customer_key IS NOT NULL
         OR COALESCE(LOWER(TRIM(l.status)), '') IN ('converted', 'transformed', '已转化', '已转换',
                                                    'closed', 'disqualified', 'invalid', '关闭', '已关闭', '无效'))
        AS is_open,
    l.owner,
    b.rep_id,
    r.name AS rep_name,
    l.customer_key,
    COALESCE(x.golden_id, o.golden_id) AS golden_id,
    l.linked_opportunity AS opportunity_key,
    l.opportunity_link,
    l.linked_opportunity IS NOT NULL
        AND ROW_NUMBER() OVER (PARTITION BY l.source_name, l.linked_opportunity ORDER BY l.created_at, l.source_key) = 1
        AS opportunity_credited,
    l.created_at,
    CAST(date_trunc('month', l.created_at) AS DATE) AS created_month,
    l.converted_at
FROM lead l
LEFT JOIN mdm.xref x
    ON x.source_name = l.source_name
   AND x.stream = l.customer_stream
   AND x.source_key = l.customer_key
LEFT JOIN opportunity_once o
    ON o.source_name = l.source_name AND o.opportunity_key = l.linked_opportunity AND o.rn = 1
LEFT JOIN marts.bridge_sales_rep b ON b.source_name = l.source_name AND b.rep_ref = l.owner
LEFT JOIN marts.dim_sales_rep r ON r.rep_id = b.rep_id AND r.is_current
