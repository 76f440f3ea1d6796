"""HTTP pieces shared by the dashboard and the gateway: the admin key and its check,
JSON responses that never carry a secret, and the liveness and readiness endpoints.

Framework: Starlette (the `server` extra), imported only by code that serves HTTP.
"""

from ml_ops.web.admin import AdminKey, admin_key_from_env, require_admin
from ml_ops.web.responses import json_response

__all__ = ["AdminKey", "admin_key_from_env", "json_response", "require_admin"]
