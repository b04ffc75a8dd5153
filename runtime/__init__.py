"""The shared runtime of Closed Loop's services: settings, db, outbox, inbox, bus, auth, app."""
