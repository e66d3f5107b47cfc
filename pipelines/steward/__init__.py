"""Stewardship: what the CLI (`hub steward`), the console and the match API call, so every face behaves the same.

- `actions`: the steward's decisions, merge, unmerge and undo (each one transaction under the writer lock);
- `effects`: what an action writes (decisions, the records' moves and their survivorship, the queue, the ID
  history, the audit log) and the reclustering that decides the moves;
- `review_queue`: reading the review queue (filters, sorts, a pair side by side, what keeps two customers apart);
- `audit`: the audit log (`mdm.merge_log`) and what each action changed;
- `customers`: customer search and the golden-customer view;
- `match_service`: one-record matching for the match API;
- `state`: where records are now (their golden IDs, the decisions in force, snapshots);
- `sql`: the SQL and JSON plumbing they share; `errors`: the errors a steward sees.

The stewards' shared work on the queue (questions, claims, comments) is `teamwork`.
"""
