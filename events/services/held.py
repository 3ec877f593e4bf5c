"""Linking a held purchase's shopper to a user, from the portal.

The identity is written by the users' own services (the one writer of identities),
which release every purchase held for it.
"""

import logging
import uuid

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError, validation_error

from ..models import Customer, Purchase
from ..selectors.customer_search import customer_id_by_email
from .users import IdentityRef, UserInput, customer_create, customer_update

logger = logging.getLogger(__name__)


def _customer_named(user: str) -> Customer | None:
    try:
        customer_id = uuid.UUID(user)
    except ValueError:
        customer_id = customer_id_by_email(user)
    return Customer.objects.filter(pk=customer_id).first() if customer_id else None


def held_purchase_link(*, purchase: Purchase, user: str, actor: Actor) -> Customer:
    """Give the user named by `user` (an id or an email) the purchase's shopper identity.

    An email that names no user creates one with it. The identity (the purchase's source
    installation and platform customer id) then releases the held purchase.
    """
    user = (user or "").strip()
    if not purchase.external_customer_id:
        raise ApplicationError(
            detail="This purchase names no shopper id to link.", code="no_shopper", status=409
        )
    identity = IdentityRef(purchase.installation_id, purchase.external_customer_id)
    customer = _customer_named(user)

    if customer is None:
        if "@" not in user:
            raise validation_error(
                "No such user.", [FieldError("user", "No user has this id or email.")]
            )
        customer = customer_create(data=UserInput(email=user, identities=(identity,)), actor=actor)
    else:
        current = tuple(
            IdentityRef(i.installation_id, i.external_id) for i in customer.identities.all()
        )
        if identity not in current:
            customer = customer_update(
                customer=customer,
                data=UserInput(identities=(*current, identity), given=frozenset({"identities"})),
                actor=actor,
            )

    logger.info(
        "held_purchase_linked",
        extra={"purchase_id": str(purchase.pk), "customer_id": str(customer.pk)},
    )
    return customer
