"""Which host a token may reach.

A token goes only to its service: the exact host or a true subdomain (dot
boundary: "evilcivitai.com" is not civitai.com), or the exact host of the
endpoint the environment points that service at (a mirror, a test server).
A token variable the manifest names for another service goes to the exact
host of that model's URL. A redirect keeps the token only to the same
scheme, host and port; the signed CDN URLs Hugging Face and CivitAI redirect
to never see it.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

# Source: huggingface_hub's constants (ENDPOINT https://huggingface.co; hf.co
# is its short domain) and CivitAI's API docs (https://civitai.com/api/v1).
SERVICE_DOMAINS = {
    "HF_TOKEN": ("huggingface.co", "hf.co"),
    "CIVITAI_TOKEN": ("civitai.com",),
}
SERVICE_ENDPOINT_VARS = {"HF_TOKEN": "HF_ENDPOINT", "CIVITAI_TOKEN": "CIVITAI_API_BASE"}


def host_of(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower().rstrip(".")


def in_domain(host: str, domain: str) -> bool:
    """host is domain itself or one of its subdomains (dot boundary)."""
    return host == domain or host.endswith("." + domain)


def is_service_host(var: str, host: str, env: dict[str, str]) -> bool:
    endpoint = env.get(SERVICE_ENDPOINT_VARS[var]) or ""
    return any(in_domain(host, d) for d in SERVICE_DOMAINS[var]) or bool(endpoint and host == host_of(endpoint))


def service_of(url: str, env: dict[str, str]) -> str | None:
    """The token variable a plain URL gets (MODEL_URLS), or None."""
    host = host_of(url)
    return next((var for var in SERVICE_DOMAINS if host and is_service_host(var, host, env)), None)


def token_allowed(var: str, url: str, model_url: str | None, env: dict[str, str]) -> bool:
    host = host_of(url)
    if not host:
        return False
    if var in SERVICE_DOMAINS:
        return is_service_host(var, host, env)
    # A variable the manifest names for its own model: that URL's host only.
    return bool(model_url) and host == host_of(model_url or "")


def token_for(var: str | None, url: str, model_url: str | None, env: dict[str, str]) -> str | None:
    if not var or not env.get(var):
        return None
    return env[var] if token_allowed(var, url, model_url, env) else None


class SameOriginAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Keep the (unredirected) Authorization header on a redirect to the same
    scheme, host and port (a renamed HF repo, a relative redirect); drop it
    for any other host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth:
            old, nxt = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
            if (old.scheme, old.hostname, old.port) == (nxt.scheme, nxt.hostname, nxt.port):
                new.add_unredirected_header("Authorization", auth)
        return new
