"""Host accounts: e-mail and password, short-lived access tokens, revocable refresh tokens.

- `passwords`: argon2id hashes (argon2-cffi), computed off the event loop.
- `tokens`: access tokens, JWTs signed with a key ring that names its keys (`kid`), so keys
  rotate without signing anyone out.
- `store`: the `host_accounts` and `refresh_tokens` tables (migration 0003) and the polls an
  account owns (`polls.owner_id`).
- `service`: sign up, sign in, refresh, sign out, change the password.
See docs/security.md, "Host accounts".
"""
