"""The key ledger: which product key sits on which host, how often it was installed and activated, and how much
of a MAK's activation budget is left.

A real database through SQLAlchemy Core: SQLite in the user's data folder by default, or a shared PostgreSQL
server (`--ledger URL` / REMEDIATE_LEDGER) for several controllers and CI runners. Keys are stored by keyed
fingerprint and last five characters; the key itself only when the operator gives an encryption key file.

    location.py     which database (option, environment, default) and which fingerprint secret
    schema.py       the tables; migrations/ the Alembic scripts that build them; migrate.py runs them on open
    channels.py     MAK, KMS host (CSVLK), retail, OEM, GVLK and the words people write for them
    fingerprint.py  the per-ledger secret and the keyed hash of a key
    encryption.py   AES-GCM for stored keys, under the operator's key file
    budget.py       the reserve and the budget check of a key
    records.py      what the ledger hands out (keys, uses, placements, counts) and the checks of labels
    store.py        Ledger: the one API over the tables
    csv_import.py   a CSV of keys (as volume-licensing portals export them) -> rows, or row-numbered errors
    views.py        tables, JSON, CSV and HTML of the ledger, in English and Japanese
    run_guard.py    the ledger in a live run: budget check and hold, installs and activations, ended keys
    status_reads.py the partial keys a status read saw
"""
