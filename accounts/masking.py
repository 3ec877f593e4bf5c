"""Personal data as a viewer may see it: masked, in one place.

Viewers read everything but never personal data in clear (emails, names, addresses,
phones). Pages pass every such value through `shown()`/`shown_data()` with the member
looking, so a page cannot forget the rule for one field without it being visible in
the template.
"""

import re
from typing import Any

MASK = "***"

EMAIL_PATTERN = re.compile(r"([A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")

# Keys whose values are personal data wherever they appear in a payload.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "customer_email",
        "phone",
        "phone_number",
        "first_name",
        "last_name",
        "full_name",
        "address1",
        "address2",
        "street",
        "city",
        "zip",
        "postal_code",
        "postcode",
        "province",
        "company",
        "latitude",
        "longitude",
        "browser_ip",
        "ip",
        "ip_address",
        "user_agent",
        "note",
        "birthday",
        "date_of_birth",
    }
)

# Objects about a person (a customer, an address): every text in them is masked except
# these codes and ids, which identify records, not people.
PERSON_OBJECT_KEYS = re.compile(r"(^|_)(customer|address|addresses|client_details|buyer)$")
PERSON_OBJECT_KEEP = frozenset(
    {
        "id",
        "admin_graphql_api_id",
        "country_code",
        "province_code",
        "currency",
        "state",
        "created_at",
        "updated_at",
        "verified_email",
        "accepts_marketing",
        "tax_exempt",
        "orders_count",
        "total_spent",
        "default",
    }
)


def can_see_personal_data(member) -> bool:
    return bool(member is not None and getattr(member, "is_admin", False))


def mask_email(value: str) -> str:
    """`alice@example.com` -> `a***@example.com`."""
    local, at, domain = value.partition("@")
    if not at:
        return mask_text(value)
    return f"{local[:1]}{MASK}@{domain}"


def mask_text(value: str) -> str:
    """Every word to its first letter: `Alice Smith` -> `A*** S***`."""
    words = str(value).split()
    if not words:
        return ""
    return " ".join(f"{word[:1]}{MASK}" for word in words)


def mask_emails_in(text: str) -> str:
    """Mask every email address inside free text, leave the rest as it is."""
    return EMAIL_PATTERN.sub(lambda m: f"{m.group(1)}{MASK}@{m.group(2)}", str(text))


def mask_value(value: Any) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return value
    if isinstance(value, str) and EMAIL_PATTERN.fullmatch(value.strip()):
        return mask_email(value.strip())
    return mask_text(str(value))


def mask_data(data: Any, *, personal: bool = False) -> Any:
    """A copy of a JSON-like structure with its personal data masked.

    Known personal keys are masked anywhere; inside person objects (customer, addresses)
    everything but record codes is; and any email address in any other text too.
    """
    if isinstance(data, dict):
        masked = {}
        for key, value in data.items():
            name = str(key).lower()
            if isinstance(value, dict | list):
                inner = personal or bool(PERSON_OBJECT_KEYS.search(name))
                masked[key] = mask_data(value, personal=inner)
            elif name in PERSONAL_KEYS or (personal and name not in PERSON_OBJECT_KEEP):
                masked[key] = mask_value(value)
            else:
                masked[key] = mask_data(value)
        return masked
    if isinstance(data, list):
        return [mask_data(item, personal=personal) for item in data]
    if isinstance(data, str):
        return mask_value(data) if personal else mask_emails_in(data)
    if personal and data is not None and not isinstance(data, bool):
        return mask_text(str(data))
    return data


def shown(value: Any, member) -> Any:
    """A personal value as `member` may see it."""
    if value is None or value == "" or can_see_personal_data(member):
        return value
    return mask_value(value)


def shown_text(value: Any, member) -> Any:
    """Free text (a label, an error) with any email addresses in it masked for viewers."""
    if value is None or value == "" or can_see_personal_data(member):
        return value
    return mask_emails_in(str(value))


def shown_data(data: Any, member) -> Any:
    if can_see_personal_data(member):
        return data
    return mask_data(data)
