"""Map: Jinja templates say what goes where; Python filters convert CDA datatypes."""
