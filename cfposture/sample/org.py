"""The embedded sample organisation: Kestrel Outfitters, a fictional outdoor-gear retailer.

Everything here is intent, written so a reader can see which problem each principal plants:
legacy tokens, wildcard scopes, tokens that hold more than they use, stale and never-used
tokens, members without 2FA, too many (or a single) super administrators, unused OAuth apps,
unverified publishers. The timeline module turns it into six monthly raw snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

SNAPSHOT_DATES = (
    "2026-06-25",
    "2026-07-25",
    "2026-08-25",
    "2026-09-25",
    "2026-10-25",
    "2026-11-25",
)
PULLER = "dana"  # the security lead whose read-only token pulls; her user tokens are listed

ACCOUNTS = {
    # key: (name, enforce_twofactor, oauth_app_access_enabled)
    "prod": ("Kestrel Outfitters", True, True),
    "stg": ("Kestrel Outfitters Staging", False, True),
    "mkt": ("Kestrel Marketing", False, False),
}

ZONES = {
    # key: (account, zone name)
    "www": ("prod", "kestrel-outfitters.example"),
    "shop": ("prod", "kestrel-shop.example"),
    "api": ("prod", "kestrel-api.example"),
    "cdn": ("prod", "kestrel-cdn.example"),
    "status": ("prod", "kestrel-status.example"),
    "mail": ("prod", "kestrel-mail.example"),
    "careers": ("prod", "kestrel-careers.example"),
    "legacy": ("prod", "kestrel-legacy.example"),
    "stg-www": ("stg", "staging-kestrel.example"),
    "stg-shop": ("stg", "staging-kestrel-shop.example"),
    "stg-api": ("stg", "staging-kestrel-api.example"),
    "preview": ("stg", "kestrel-preview.example"),
    "blog": ("mkt", "kestrel-blog.example"),
    "trail": ("mkt", "trailguide.example"),
    "events": ("mkt", "kestrel-events.example"),
}

PEOPLE = {
    # key: (first, last, email domain, two-factor enabled)
    "dana": ("Dana", "Okafor", "kestrel-outfitters.example", True),
    "marco": ("Marco", "Bellini", "kestrel-outfitters.example", True),
    "priya": ("Priya", "Raman", "kestrel-outfitters.example", True),
    "tom": ("Tom", "Becker", "kestrel-outfitters.example", False),
    "lena": ("Lena", "Vogt", "kestrel-outfitters.example", True),
    "sam": ("Sam", "Whitaker", "kestrel-outfitters.example", True),
    "aiko": ("Aiko", "Tanaka", "kestrel-outfitters.example", True),
    "jon": ("Jon", "Mbeki", "kestrel-outfitters.example", False),
    "rosa": ("Rosa", "Alvarez", "kestrel-outfitters.example", True),
    "kai": ("Kai", "Nakamura", "kestrel-outfitters.example", True),
    "ines": ("Ines", "Duarte", "kestrel-outfitters.example", True),
    "omar": ("Omar", "Haddad", "kestrel-outfitters.example", False),
    "fay": ("Fay", "Lindqvist", "kestrel-outfitters.example", True),
    "gus": ("Gus", "Petrov", "kestrel-outfitters.example", True),
    "hana": ("Hana", "Kim", "kestrel-outfitters.example", True),
    "ivo": ("Ivo", "Novak", "kestrel-outfitters.example", True),
    "june": ("June", "Carter", "kestrel-outfitters.example", True),
    "leo": ("Leo", "Marsh", "kestrel-outfitters.example", False),
    "mia": ("Mia", "Santos", "kestrel-outfitters.example", True),
    "ned": ("Ned", "Fischer", "kestrel-outfitters.example", True),
    "ola": ("Ola", "Nordmann", "agency.example", False),
    "pat": ("Pat", "Quinn", "agency.example", True),
    "ravi": ("Ravi", "Shah", "contractor.example", True),
    "sue": ("Sue", "Tran", "kestrel-outfitters.example", True),
    "vic": ("Vic", "Young", "kestrel-outfitters.example", True),
}


@dataclass(frozen=True)
class P:
    """A policy: permission groups at one scope (``account``, ``account_zones``, ``zones``,
    ``all_zones``, ``all_accounts``, ``user`` for tokens; ``account``, ``zones``, ``resource``
    for members)."""

    groups: tuple[str, ...]
    scope: str = "account"
    targets: tuple[str, ...] = ()
    effect: str = "allow"


@dataclass(frozen=True)
class Use:
    """Observed activity: ``per_day`` events exercising ``group`` on ``target`` (a zone key,
    or an account key for account-level groups), from ``start`` (default: the token's issue)."""

    group: str
    target: str
    per_day: float
    start: str | None = None
    stop: str | None = None


@dataclass(frozen=True)
class Tok:
    key: str
    owner: str  # an account key, or "user:<person>" for a user-owned token
    name: str
    policies: tuple[P, ...]
    issued: str
    expires: str | None = None
    ip: tuple[str, ...] = ()
    status: str = "active"
    uses: tuple[Use, ...] = ()
    last_used_before: str | None = None  # used once, before the audit history starts
    rolled: str | None = None  # rolled (reissued as cfut_/cfat_) on this day
    deleted: str | None = None
    listed: bool = True  # False: another member's user token, seen only in audit logs
    provisioner: str | None = None  # the key of the OAuth app that minted it
    ip_deny: tuple[str, ...] = ()  # condition.request_ip.not_in
    not_before: str | None = None


NEWER_GROUPS = {
    # name: (id, scope): a permission group the API lists that cfposture's catalogue does not
    # hold yet (fictional), so the sample shows how such a group is judged
    "Cache Reserve Write": ("7b2c5e1d9a4f4c3e8d6b0a1f2e3c4d5b", "com.cloudflare.api.account.zone"),
}

CI_IPS = ("203.0.113.0/24",)
OFFICE_IPS = ("198.51.100.0/24", "2001:db8:4b::/48")

ALL_PROD = ("www", "shop", "api", "cdn", "status", "mail", "careers", "legacy")

TOKENS: tuple[Tok, ...] = (
    # ---- Kestrel Outfitters (prod): account-owned -------------------------------------
    Tok(
        "prod-terraform",
        "prod",
        "terraform-prod",
        (
            P(("Account Settings Write", "Workers Scripts Write")),
            # Cache Reserve Write: newer than cfposture's catalogue (NEWER_GROUPS), named only
            # by the pull's own permission-group lists
            P(
                ("DNS Write", "Zone Write", "Firewall Services Write", "Cache Reserve Write"),
                "account_zones",
            ),
        ),
        "2024-03-11",
        uses=(
            Use("DNS Write", "www", 3),
            Use("DNS Write", "shop", 2),
            Use("DNS Write", "api", 1),
            Use("Workers Scripts Write", "prod", 1),
        ),
    ),
    Tok(
        "prod-workers-ci",
        "prod",
        "ci-deploy-workers",
        (P(("Workers Scripts Write",)), P(("Workers Routes Write",), "zones", ("www", "shop"))),
        "2026-05-04",
        expires="2027-05-04",
        ip=CI_IPS,
        ip_deny=("203.0.113.99/32",),  # the runner pool's shared egress, carved out
        not_before="2026-05-05",
        uses=(
            Use("Workers Scripts Write", "prod", 4),
            Use("Workers Routes Write", "www", 0.5),
            Use("Workers Routes Write", "shop", 0.5),
        ),
    ),
    Tok(
        "prod-cert-manager",
        "prod",
        "cert-manager",
        (P(("SSL and Certificates Write", "DNS Write"), "zones", ("shop", "api")),),
        "2025-01-20",
        ip=CI_IPS,
        uses=(
            Use("DNS Write", "shop", 0.3),
            Use("DNS Write", "api", 0.3),
            Use("SSL and Certificates Write", "shop", 0.1),
        ),
    ),
    Tok(
        "prod-office-ddns",
        "prod",
        "office-ddns",
        (P(("DNS Write",), "zones", ("www",)),),
        "2023-06-02",
        ip=OFFICE_IPS,
        uses=(Use("DNS Write", "www", 2),),
    ),
    Tok(
        "prod-grafana",
        "prod",
        "grafana-analytics",
        (P(("Account Analytics Read",)), P(("Analytics Read",), "account_zones")),
        "2026-06-10",
        expires="2027-06-10",
        ip=CI_IPS,
        uses=(
            Use("Account Analytics Read", "prod", 6),
            Use("Analytics Read", "www", 6),
            Use("Analytics Read", "shop", 6),
        ),
    ),
    Tok(
        "prod-logpush",
        "prod",
        "logpush-siem",
        (P(("Logs Write", "Logs Read"), "account_zones"),),
        "2024-09-02",
        uses=(Use("Logs Read", "www", 1), Use("Logs Read", "shop", 1)),
    ),
    Tok(
        "prod-migration",
        "prod",
        "zone-migration-2022",
        (P(("Zone Write", "DNS Write"), "all_zones"),),
        "2022-02-14",
        deleted="2026-10-14",
    ),
    Tok(
        "prod-cache-purge",
        "prod",
        "cache-purge-deploy",
        (P(("Cache Purge",), "zones", ("www", "cdn")),),
        "2025-04-01",
        expires="2027-04-01",
        ip=CI_IPS,
        rolled="2026-08-03",
        uses=(Use("Cache Purge", "www", 2), Use("Cache Purge", "cdn", 2)),
    ),
    Tok(
        "prod-r2-backup",
        "prod",
        "backup-r2",
        (P(("Workers R2 Storage Write",)),),
        "2024-11-05",
        last_used_before="2026-01-17",
    ),
    Tok(
        "prod-access-automation",
        "prod",
        "access-automation",
        (P(("Access: Apps and Policies Write",)),),
        "2025-03-03",
        expires="2026-09-01",
        uses=(Use("Access: Apps and Policies Write", "prod", 0.5, stop="2026-09-01"),),
    ),
    Tok(
        "prod-old-ci",
        "prod",
        "jenkins-legacy",
        (P(("Zone Write", "DNS Write"), "account_zones"),),
        "2021-08-19",
        status="disabled",
        last_used_before="2025-05-30",
    ),
    Tok(
        "prod-scanner",
        "prod",
        "security-scanner-ro",
        (
            P(("Account Settings Read",)),
            P(("Zone Read", "DNS Read", "Firewall Services Read"), "account_zones"),
        ),
        "2026-04-21",
        expires="2027-04-21",
        ip=OFFICE_IPS,
        uses=(
            Use("Account Settings Read", "prod", 1),
            Use("Zone Read", "www", 1),
            Use("DNS Read", "shop", 1),
            Use("Firewall Services Read", "api", 1),
        ),
    ),
    Tok(
        "prod-pages",
        "prod",
        "pages-deploy",
        (P(("Pages Write",)),),
        "2026-07-08",
        expires="2027-07-08",
        ip=CI_IPS,
        uses=(Use("Pages Write", "prod", 1),),
    ),
    Tok(
        "prod-token-admin",
        "prod",
        "token-rotation-bot",
        (P(("Account API Tokens Write",)),),
        "2025-02-11",
        uses=(Use("Account API Tokens Write", "prod", 0.2),),
    ),
    Tok(
        "prod-waf",
        "prod",
        "waf-tuning",
        (P(("Firewall Services Write",), "zones", ("shop",)),),
        "2025-10-09",
        ip=OFFICE_IPS,
        rolled="2026-06-15",
        uses=(Use("Firewall Services Write", "shop", 1),),
    ),
    Tok(
        "prod-status-dns",
        "prod",
        "statuspage-dns",
        (P(("DNS Write",), "zones", ("status",)),),
        "2026-09-02",
        expires="2027-09-02",
        ip=CI_IPS,
        uses=(Use("DNS Write", "status", 0.3),),
    ),
    Tok(
        "prod-mail-dns",
        "prod",
        "mail-dkim-rotation",
        (P(("DNS Write", "Zone Settings Write"), "zones", ("mail",)),),
        "2024-12-01",
        rolled="2026-10-20",
        uses=(Use("DNS Write", "mail", 0.2),),
    ),
    Tok(
        "prod-loadtest",
        "prod",
        "load-test-2025",
        (P(("Zone Settings Write", "Cache Purge", "Firewall Services Write"), "account_zones"),),
        "2025-11-12",
    ),
    Tok(
        "prod-kv-sync",
        "prod",
        "kv-config-sync",
        (P(("Workers KV Storage Write",)),),
        "2026-08-18",
        expires="2027-02-18",
        ip=CI_IPS,
        uses=(Use("Workers KV Storage Write", "prod", 3),),
    ),
    Tok(
        "prod-waf-deny",
        "prod",
        "edge-rules-no-dns",
        (
            P(("Zone Settings Write", "Page Rules Write"), "account_zones"),
            P(("Zone Settings Write",), "zones", ("legacy",), effect="deny"),
        ),
        "2026-05-19",
        expires="2027-05-19",
        ip=CI_IPS,
        uses=(Use("Zone Settings Write", "www", 0.5), Use("Page Rules Write", "shop", 0.2)),
    ),
    Tok(
        "prod-ssl-monitor",
        "prod",
        "ssl-expiry-monitor",
        (P(("SSL and Certificates Read",), "account_zones"),),
        "2026-07-01",
        expires="2027-07-01",
        ip=CI_IPS,
        uses=(
            Use("SSL and Certificates Read", "www", 1),
            Use("SSL and Certificates Read", "shop", 1),
        ),
    ),
    Tok(
        "prod-ddos-alerts",
        "prod",
        "ddos-alert-webhook",
        (P(("Firewall Services Read",), "zones", ("shop",)),),
        "2025-05-05",
        uses=(Use("Firewall Services Read", "shop", 2),),
    ),
    # ---- Staging -----------------------------------------------------------------------
    Tok(
        "stg-terraform",
        "stg",
        "terraform-staging",
        (
            P(("DNS Write", "Zone Write", "Workers Scripts Write")),
            P(("DNS Write", "Zone Write"), "account_zones"),
        ),
        "2024-05-22",
        rolled="2026-09-09",
        uses=(Use("DNS Write", "stg-www", 2), Use("Zone Write", "stg-api", 0.2)),
    ),
    Tok(
        "stg-preview-ci",
        "stg",
        "preview-deployer",
        (P(("Workers Scripts Write", "Pages Write")),),
        "2026-04-28",
        ip=CI_IPS,
        uses=(Use("Workers Scripts Write", "stg", 5), Use("Pages Write", "stg", 2)),
    ),
    Tok(
        "stg-qa-purge",
        "stg",
        "qa-cache-purge",
        (P(("Cache Purge",), "zones", ("stg-shop",)),),
        "2025-07-30",
        uses=(Use("Cache Purge", "stg-shop", 1),),
    ),
    Tok(
        "stg-unused-ro",
        "stg",
        "readonly-dashboard-export",
        (P(("Zone Read", "Analytics Read"), "account_zones"),),
        "2025-06-12",
        expires="2027-01-31",
    ),
    Tok(
        "stg-old-api",
        "stg",
        "api-gateway-test",
        (P(("Zone Settings Write", "Firewall Services Write"), "zones", ("stg-api",)),),
        "2023-11-03",
        last_used_before="2025-12-02",
    ),
    Tok(
        "stg-load-balancer",
        "stg",
        "lb-healthchecks",
        (P(("Zone Read",), "zones", ("stg-www", "stg-shop")),),
        "2026-06-30",
        expires="2026-10-31",
        uses=(Use("Zone Read", "stg-www", 1, stop="2026-10-31"),),
    ),
    Tok(
        "stg-r2-fixtures",
        "stg",
        "test-fixtures-r2",
        (P(("Workers R2 Storage Write",)),),
        "2026-08-05",
        expires="2027-08-05",
        ip=CI_IPS,
        uses=(Use("Workers R2 Storage Write", "stg", 2),),
    ),
    Tok(
        "stg-sso-setup",
        "stg",
        "access-sso-setup",
        (P(("Access: Apps and Policies Write", "Account Settings Write")),),
        "2025-09-15",
        uses=(Use("Access: Apps and Policies Write", "stg", 0.1, stop="2026-06-20"),),
    ),
    Tok(
        "stg-disabled",
        "stg",
        "old-staging-deployer",
        (P(("Workers Scripts Write",)),),
        "2024-01-09",
        status="disabled",
    ),
    Tok(
        "stg-dns-preview",
        "stg",
        "preview-dns",
        (P(("DNS Write",), "zones", ("preview",)),),
        "2026-10-02",
        expires="2027-10-02",
        ip=CI_IPS,
        uses=(Use("DNS Write", "preview", 1),),
    ),
    Tok(
        "stg-perf",
        "stg",
        "perf-test-runner",
        (P(("Zone Settings Write", "Cache Purge"), "zones", ("stg-www",)),),
        "2026-09-20",
        expires="2027-03-20",
        ip=CI_IPS,
    ),
    Tok(
        "stg-legacy-dns",
        "stg",
        "staging-dns-sync",
        (P(("DNS Write",), "account_zones"),),
        "2024-02-02",
        uses=(Use("DNS Write", "stg-www", 1),),
    ),
    # ---- Marketing -----------------------------------------------------------------------
    Tok(
        "mkt-agency",
        "mkt",
        "agency-site-builder",
        (P(("Zone Write", "DNS Write", "Cache Purge", "Zone Settings Write"), "account_zones"),),
        "2024-10-01",
        uses=(Use("DNS Write", "blog", 0.5), Use("Cache Purge", "blog", 2)),
    ),
    Tok(
        "mkt-blog-purge",
        "mkt",
        "blog-cache-purge",
        (P(("Cache Purge",), "zones", ("blog",)),),
        "2026-05-12",
        expires="2027-05-12",
        uses=(Use("Cache Purge", "blog", 3),),
    ),
    Tok(
        "mkt-events-dns",
        "mkt",
        "events-dns",
        (P(("DNS Write",), "zones", ("events",)),),
        "2025-03-18",
        rolled="2026-11-02",
        uses=(Use("DNS Write", "events", 0.3),),
    ),
    Tok(
        "mkt-analytics",
        "mkt",
        "marketing-analytics",
        (P(("Analytics Read", "Zone Read"), "account_zones"),),
        "2025-08-21",
        ip=OFFICE_IPS,
        uses=(Use("Analytics Read", "blog", 4), Use("Analytics Read", "trail", 4)),
    ),
    Tok(
        "mkt-trail-pages",
        "mkt",
        "trailguide-pages",
        (P(("Pages Write",)),),
        "2026-07-29",
        uses=(Use("Pages Write", "mkt", 1),),
    ),
    Tok(
        "mkt-campaign-2024",
        "mkt",
        "campaign-microsite-2024",
        (P(("DNS Write", "Zone Write"), "zones", ("events",)),),
        "2024-04-02",
        last_used_before="2024-12-20",
    ),
    Tok(
        "mkt-newsletter",
        "mkt",
        "newsletter-workers",
        (P(("Workers Scripts Write", "Workers KV Storage Write")),),
        "2025-12-03",
        uses=(Use("Workers Scripts Write", "mkt", 0.5),),
        deleted="2026-09-30",
    ),
    Tok(
        "mkt-seo-audit",
        "mkt",
        "seo-audit-tool",
        (P(("Zone Read", "DNS Read", "Zone Settings Read"), "account_zones"),),
        "2026-09-14",
        expires="2026-12-31",
        uses=(Use("Zone Settings Read", "trail", 2),),
    ),
    Tok(
        "mkt-forms",
        "mkt",
        "forms-worker",
        (P(("Workers Scripts Write",)),),
        "2026-02-14",
        uses=(Use("Workers Scripts Write", "mkt", 0.5),),
    ),
    # ---- Dana's own user tokens (listed by /user/tokens) ------------------------------------
    # minted by Wrangler when Dana authorized it (provisioner_type oauthtoken): it acts as the
    # app, so its activity is the app's (APPS below) and its review is the app's
    Tok(
        "dana-wrangler-oauth",
        "user:dana",
        "Wrangler",
        (
            P(("Workers Scripts Write", "Workers KV Storage Write"), "account", ("prod",)),
            P(("Workers Scripts Write", "Workers KV Storage Write"), "account", ("stg",)),
            P(("Zone Read",), "all_zones"),
            P(("User Details Read",), "user"),
        ),
        "2025-05-02",
        expires="2027-05-02",
        provisioner="wrangler",
    ),
    Tok(
        "dana-cfposture",
        "user:dana",
        "cfposture-audit (read-only)",
        (
            P(
                (
                    "Account Settings Read",
                    "Account API Tokens Read",
                    "Access: Audit Logs Read",
                ),
                "all_accounts",
            ),
            P(("Zone Read",), "all_zones"),
            P(("API Tokens Read", "User Details Read"), "user"),
        ),
        "2026-05-30",
        expires="2027-05-30",
        ip=OFFICE_IPS,
        uses=(
            Use("Account Settings Read", "prod", 1),
            Use("Account API Tokens Read", "prod", 1),
            Use("Access: Audit Logs Read", "prod", 1),
            Use("Account Settings Read", "stg", 1),
            Use("Account API Tokens Read", "stg", 1),
            Use("Access: Audit Logs Read", "stg", 1),
            Use("Account Settings Read", "mkt", 1),
            Use("Account API Tokens Read", "mkt", 1),
            Use("Access: Audit Logs Read", "mkt", 1),
            Use("Zone Read", "www", 1),
        ),
    ),
    Tok(
        "dana-laptop",
        "user:dana",
        "dana-laptop-cli",
        (
            P(
                ("Account Settings Write", "Workers Scripts Write", "Account API Tokens Write"),
                "all_accounts",
            ),
            P(("DNS Write", "Zone Write", "Firewall Services Write"), "all_zones"),
        ),
        "2023-09-04",
        uses=(Use("DNS Write", "www", 0.3), Use("Firewall Services Write", "shop", 0.1)),
    ),
    Tok(
        "dana-wrangler",
        "user:dana",
        "wrangler-dev",
        (P(("Workers Scripts Write",), "account", ("stg",)),),
        "2026-06-02",
        expires="2026-12-02",
        uses=(Use("Workers Scripts Write", "stg", 2),),
    ),
    Tok(
        "dana-incident",
        "user:dana",
        "incident-2025-07",
        (P(("Firewall Services Write", "Zone Settings Write"), "all_zones"),),
        "2025-07-14",
        last_used_before="2025-07-16",
    ),
    Tok(
        "dana-tokens",
        "user:dana",
        "token-inventory",
        (P(("API Tokens Read",), "user"),),
        "2026-04-15",
        expires="2026-12-31",
        uses=(Use("API Tokens Read", "user", 0.2),),
    ),
    Tok(
        "dana-ro-mkt",
        "user:dana",
        "marketing-readonly",
        (P(("Zone Read", "Analytics Read"), "account_zones", ("mkt",)),),
        "2024-02-26",
        rolled="2026-07-30",
        uses=(Use("Analytics Read", "blog", 0.2),),
    ),
    Tok(
        "dana-old-dns",
        "user:dana",
        "dns-import-script",
        (P(("DNS Write",), "zones", ("legacy", "careers")),),
        "2022-10-10",
        deleted="2026-08-20",
        last_used_before="2023-01-05",
    ),
    Tok(
        "dana-expired",
        "user:dana",
        "pentest-window-q2",
        (P(("Firewall Services Read", "Zone Read"), "all_zones"),),
        "2026-04-20",
        expires="2026-06-30",
        uses=(Use("Zone Read", "api", 2, stop="2026-06-30"),),
    ),
    Tok(
        "dana-r2",
        "user:dana",
        "r2-log-reader",
        (P(("Workers R2 Storage Read",), "account", ("prod",)),),
        "2025-11-20",
        uses=(Use("Workers R2 Storage Read", "prod", 0.3),),
    ),
    Tok(
        "dana-access",
        "user:dana",
        "access-policy-review",
        (P(("Access: Apps and Policies Read",), "account", ("prod",)),),
        "2026-10-05",
        expires="2027-01-05",
        ip=OFFICE_IPS,
        uses=(Use("Access: Apps and Policies Read", "prod", 0.5),),
    ),
    Tok(
        "dana-logs",
        "user:dana",
        "audit-log-export",
        (P(("Access: Audit Logs Read",), "all_accounts"),),
        "2025-05-07",
        uses=(Use("Access: Audit Logs Read", "prod", 1),),
    ),
    Tok(
        "dana-cache",
        "user:dana",
        "cache-debug",
        (P(("Cache Purge", "Zone Settings Read"), "zones", ("cdn",)),),
        "2026-03-02",
        uses=(Use("Cache Purge", "cdn", 0.2),),
    ),
    Tok(
        "dana-zone-export",
        "user:dana",
        "zone-inventory-export",
        (P(("Zone Read",), "all_zones"),),
        "2025-03-03",
        last_used_before="2025-10-21",
    ),
    # ---- Other members' user tokens: never listed, seen acting in audit logs -------------
    Tok(
        "marco-terraform",
        "user:marco",
        "marco-terraform",
        (),
        "2025-02-02",
        listed=False,
        uses=(Use("DNS Write", "www", 1), Use("Zone Write", "api", 0.2)),
    ),
    Tok(
        "tom-script",
        "user:tom",
        "tom-purge-script",
        (),
        "2024-06-06",
        listed=False,
        uses=(Use("Cache Purge", "cdn", 1),),
    ),
    Tok(
        "jon-cli",
        "user:jon",
        "jon-cli",
        (),
        "2025-10-10",
        listed=False,
        uses=(Use("Workers Scripts Write", "stg", 1),),
    ),
    Tok(
        "ola-agency",
        "user:ola",
        "agency-deploy",
        (),
        "2025-01-15",
        listed=False,
        uses=(Use("DNS Write", "blog", 0.5), Use("Zone Settings Write", "trail", 0.3)),
    ),
    Tok(
        "priya-dns",
        "user:priya",
        "priya-dns-bulk",
        (),
        "2026-06-01",
        listed=False,
        uses=(Use("DNS Write", "shop", 0.5, stop="2026-08-01"),),
    ),
    Tok(
        "ravi-tunnel",
        "user:ravi",
        "ravi-contractor",
        (),
        "2025-12-12",
        listed=False,
        uses=(Use("Account Settings Read", "prod", 0.5),),
    ),
    Tok(
        "sam-zero-trust",
        "user:sam",
        "sam-zt-automation",
        (),
        "2026-05-05",
        listed=False,
        uses=(Use("Access: Apps and Policies Write", "prod", 0.4),),
    ),
)


@dataclass(frozen=True)
class Member:
    account: str
    person: str
    policies: tuple[P, ...]
    status: str = "accepted"
    groups: tuple[str, ...] = ()
    uses: tuple[Use, ...] = ()  # dashboard activity
    joined: str = "2024-01-01"


SA = P(("Super Administrator - All Privileges",))
ADMIN = P(("Administrator",))
RO = P(("Administrator Read Only",))

MEMBERS: tuple[Member, ...] = (
    # prod: four super admins (above the threshold of three)
    Member("prod", "dana", (SA,), uses=(Use("Account Settings Write", "prod", 0.3),)),
    Member("prod", "marco", (SA,), uses=(Use("DNS Write", "www", 0.5),)),
    Member("prod", "priya", (SA,), uses=(Use("Account Settings Write", "prod", 0.1),)),
    Member("prod", "tom", (SA,)),
    Member(
        "prod", "lena", (ADMIN,), uses=(Use("DNS Write", "shop", 1), Use("Zone Read", "shop", 1))
    ),
    Member(
        "prod",
        "sam",
        (P(("Cloudflare Access",)),),
        uses=(Use("Access: Apps and Policies Write", "prod", 0.5),),
    ),
    Member("prod", "aiko", (RO,), uses=(Use("Zone Read", "www", 1),)),
    Member(
        "prod",
        "jon",
        (P(("Domain DNS",), "zones", ("shop", "api")),),
        uses=(Use("DNS Write", "shop", 0.4),),
    ),
    Member("prod", "rosa", (P(("Billing",)),)),
    Member(
        "prod",
        "kai",
        (P(("Domain Administrator",), "zones", ("status",)),),
        uses=(Use("Zone Settings Write", "status", 0.2),),
    ),
    Member(
        "prod",
        "ines",
        (P(("Cloudflare Access App Admin",), "resource", ("access-app:intranet",)),),
        uses=(Use("Access: Apps and Policies Write", "prod", 0.2),),
    ),
    Member(
        "prod",
        "omar",
        (
            P(("Worker Admin",), "resource", ("worker:checkout-edge",)),
            P(("Workers Platform (Read-only)",)),
        ),
        uses=(Use("Workers Scripts Write", "prod", 0.5),),
    ),
    Member(
        "prod",
        "fay",
        (P(("Audit Logs Viewer",)),),
        uses=(Use("Access: Audit Logs Read", "prod", 0.5),),
    ),
    Member(
        "prod",
        "gus",
        (),
        groups=("sre-oncall",),
        uses=(Use("Firewall Services Write", "shop", 0.3),),
    ),
    Member("prod", "hana", (), groups=("sre-oncall",)),
    Member("prod", "ivo", (P(("Analytics",)),), status="pending"),
    Member("prod", "ravi", (ADMIN,), uses=(Use("Account Settings Read", "prod", 0.2),)),
    Member(
        "prod",
        "june",
        (P(("DNS",)), P(("Domain DNS",), "zones", ("mail",))),
        uses=(Use("DNS Write", "mail", 0.2),),
    ),
    # staging: two super admins
    Member("stg", "dana", (SA,)),
    Member("stg", "marco", (SA,), uses=(Use("DNS Write", "stg-www", 0.3),)),
    Member("stg", "jon", (ADMIN,), uses=(Use("Workers Scripts Write", "stg", 1),)),
    Member("stg", "lena", (ADMIN,)),
    Member("stg", "leo", (ADMIN,), uses=(Use("DNS Write", "stg-api", 0.2),)),
    Member("stg", "mia", (RO,)),
    Member(
        "stg",
        "ned",
        (P(("Workers Platform Admin",)),),
        uses=(Use("Workers Scripts Write", "stg", 0.5),),
    ),
    Member("stg", "omar", (P(("Worker Read",), "resource", ("worker:preview-router",)),)),
    Member("stg", "pat", (P(("Domain DNS",), "zones", ("preview",)),), status="pending"),
    Member(
        "stg", "sue", (P(("Firewall",)),), uses=(Use("Firewall Services Write", "stg-shop", 0.1),)
    ),
    Member("stg", "vic", (), groups=("qa-team",), uses=(Use("Cache Purge", "stg-shop", 0.3),)),
    Member("stg", "kai", (), groups=("qa-team",)),
    # marketing: a single super admin (no backup)
    Member("mkt", "rosa", (SA,), uses=(Use("Account Settings Write", "mkt", 0.05),)),
    Member("mkt", "ola", (ADMIN,), uses=(Use("DNS Write", "blog", 0.5),)),
    Member(
        "mkt",
        "pat",
        (P(("Domain Administrator",), "zones", ("trail",)),),
        uses=(Use("Zone Settings Write", "trail", 0.3),),
    ),
    Member("mkt", "mia", (), groups=("web-editors",), uses=(Use("Cache Purge", "blog", 0.5),)),
    Member("mkt", "sue", (), groups=("web-editors",)),
    Member("mkt", "vic", (RO,), status="pending"),
    Member("mkt", "leo", (P(("Analytics",)),)),
    Member(
        "mkt",
        "ivo",
        (P(("Domain DNS",), "zones", ("events",)),),
        uses=(Use("DNS Write", "events", 0.1),),
    ),
    Member("mkt", "dana", (RO,)),
    Member("mkt", "fay", (P(("Audit Logs Viewer",)),)),
)

USER_GROUPS = {
    # key: (account, name, policies)
    "sre-oncall": (
        "prod",
        "SRE on-call",
        (P(("Firewall",)), P(("Cache Domain Purge",), "zones", ("www", "shop", "cdn"))),
    ),
    "qa-team": ("stg", "QA", (P(("Cache Domain Purge",), "zones", ("stg-shop", "stg-www")),)),
    "web-editors": (
        "mkt",
        "Web editors",
        (P(("Domain Administrator",), "zones", ("blog", "trail")),),
    ),
}


@dataclass(frozen=True)
class App:
    key: str
    name: str
    publisher: str
    verified: bool
    user: str
    accounts: tuple[str, ...]  # ("*",) = all accounts
    scopes: tuple[str, ...]
    granted: str
    revoked: str | None = None
    uses_per_day: float = 0.0
    uses_stop: str | None = None
    exported: bool = True  # False: seen only acting in audit logs


APPS: tuple[App, ...] = (
    App(
        "wrangler",
        "Wrangler",
        "Cloudflare",
        True,
        "dana",
        ("prod", "stg"),
        ("account:read", "user:read", "workers:write", "workers_kv:write", "zone:read"),
        "2025-05-02",
        uses_per_day=2,
    ),
    App(
        "grafana",
        "Grafana Cloud",
        "grafana.example",
        True,
        "fay",
        ("prod",),
        ("account-analytics.read", "zone-analytics.read"),
        "2025-09-17",
        uses_per_day=4,
    ),
    App(
        "deploybuddy",
        "DeployBuddy",
        "deploybuddy.example",
        False,
        "tom",
        ("*",),
        ("workers-platform.write", "dns.write", "zone.write"),
        "2025-02-08",
    ),
    App(
        "sentry",
        "Sentry",
        "sentry.example",
        True,
        "jon",
        ("stg",),
        ("workers-observability.read",),
        "2025-06-30",
        uses_per_day=1,
        uses_stop="2026-07-15",
    ),
    App(
        "flowlink",
        "FlowLink Automations",
        "flowlink.example",
        False,
        "ola",
        ("mkt",),
        ("dns.write", "cache.purge"),
        "2026-03-11",
        uses_per_day=1,
    ),
    App(
        "terraform-cloud",
        "Terraform Cloud",
        "hashicorp.example",
        True,
        "marco",
        ("*",),
        ("account-settings.write", "dns.write", "workers-platform.write"),
        "2025-11-25",
        uses_per_day=3,
    ),
    App(
        "old-dash-plugin",
        "Dashboard Themes",
        "themes.example",
        True,
        "lena",
        ("prod",),
        ("user-details.read",),
        "2024-08-08",
        revoked="2026-09-10",
    ),
    App(
        "statuspage-sync",
        "Statuspage Sync",
        "statuspage.example",
        False,
        "kai",
        ("prod",),
        (),
        "2026-01-01",
        uses_per_day=0.5,
        exported=False,
    ),
)

PUBLISHED_CLIENTS = {
    # account: [(name, uri, verification status, scopes, created)]
    "prod": [
        (
            "Kestrel Internal Portal",
            "https://portal.kestrel-outfitters.example",
            "verified",
            ("user-details.read", "account-settings.read"),
            "2026-06-05",
        )
    ],
    "stg": [
        (
            "Kestrel Partner API (test)",
            "https://partners.staging-kestrel.example",
            "pending",
            ("dns.read",),
            "2026-08-12",
        )
    ],
}

# What the pulling token could not read: Kestrel Marketing's OAuth clients (a coverage gap).
DENIED = {("oauth_clients", "mkt")}
