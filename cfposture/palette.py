"""The colours every chart and page uses, one place for all (severity red is the same red in a
plotly chart and on the report's index). Kept free of imports: the report's page writer needs
the colours, not plotly."""

SEVERITY_COLORS = {
    "critical": "#6a1b9a",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#f9a825",
    "info": "#90a4ae",
}
FORMAT_COLORS = {"legacy": "#c62828", "unknown": "#9e9e9e", "scannable": "#2e7d32"}
PRINCIPAL_COLORS = {  # plotly's first colours, fixed per type so every chart agrees
    "user_token": "#636efa",
    "member": "#EF553B",
    "account_token": "#00cc96",
    "user_group": "#ab63fa",
    "oauth_app": "#FFA15A",
}
PUBLISHER_COLORS = {"verified": "#2e7d32", "unverified": "#c62828", "unknown": "#9e9e9e"}
