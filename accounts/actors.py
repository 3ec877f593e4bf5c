"""Who did something: every service names its actor explicitly."""

from dataclasses import dataclass

from .models import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str = ""
    label: str = ""

    @classmethod
    def member(cls, member) -> "Actor":
        return cls(ActorKind.MEMBER, str(member.pk), member.email)

    @classmethod
    def api_client(cls, application) -> "Actor":
        return cls(ActorKind.API_CLIENT, str(application.client_id), application.name)

    @classmethod
    def installation(cls, installation) -> "Actor":
        return cls(ActorKind.INSTALLATION, str(installation.pk), installation.name)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(ActorKind.SYSTEM, "", label)


SYSTEM = Actor.system()
