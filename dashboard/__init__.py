"""The operators' dashboard (Plotly Dash), reading only through analytics."""
