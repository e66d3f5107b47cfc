-- One row per golden customer: the survived attributes and where the customer is known.
SELECT
    g.golden_id,
    g.name,
    g.short_name,
    g.uscc,
    g.phone,
    g.address,
    g.province,
    g.city,
    g.contact_name,
    g.industry,
    g.source_count,
    g.system_count,
    g.first_seen,
    g.last_seen,
    g.updated_at
FROM mdm.golden_customer g
