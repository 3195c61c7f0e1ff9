-- Article 6 AEF reconciliation (docs/counting-rules.md, Article 6 AEF): per cooperative approach
-- and authorized party, the actions that take ITMOs out of an authorization (First Transfer,
-- Use, Cancellation) never exceed it, and what is held (T4) is what they left:
-- held = authorized - first transferred - used - cancelled. One row per approach and party
-- that does not add up.
select
    cooperative_approach_id,
    party_id,
    quantity_authorized,
    quantity_first_transferred + quantity_used + quantity_cancelled as quantity_drawn,
    quantity_held,
    quantity_remaining
from {{ ref('mart_article6_aef_approaches') }}
where quantity_first_transferred + quantity_used + quantity_cancelled > quantity_authorized
   or abs(quantity_remaining - quantity_held) > 0.000001
