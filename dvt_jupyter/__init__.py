"""The notebook front end of DVT (magics, session, widgets) — being built; see issue 3."""
