import logging

from django.conf import settings
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tenants.clone import CloneSchema
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from . import schema_clone
from .slugs import validate_domain

logger = logging.getLogger(__name__)


def _pending_migrations(schema_name: str) -> list:
    with schema_context(schema_name):
        executor = MigrationExecutor(connection)
        return executor.migration_plan(executor.loader.graph.leaf_nodes())


class OrganisationQuerySet(models.QuerySet):
    def clients(self):
        """Real organisations: not the public schema, not the base schema for cloning."""
        return self.exclude(schema_name__in=[get_public_schema_name(), settings.TENANT_BASE_SCHEMA])

    def delete(self):
        # A bulk delete would leave schemas behind: delete one by one, dropping each.
        deleted = 0
        for organisation in self:
            organisation.delete()
            deleted += 1
        return deleted, {self.model._meta.label: deleted}


class Organisation(TenantMixin):
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    auto_create_schema = True
    auto_drop_schema = True

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name or self.schema_name

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """Copy the base schema, then migrate the copy for real when the base is behind.

        django-tenants fakes every migration after cloning, so a base that is behind
        would yield organisations missing tables with no error. Instead the copy keeps
        the base's own migration records and `migrate_schemas` applies whatever the base
        lacked (usually nothing, and then it does not run). See `schema_clone` for why
        the copy is not django-tenants' clone function.
        """
        base = self.get_base_schema()
        if not (sync_schema and base and schema_exists(base)):
            if sync_schema and base:
                logger.warning("base_schema_missing", extra={"schema": base})
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        if check_if_exists and schema_exists(self.schema_name):
            return False

        unsupported = schema_clone.unsupported_objects(base)
        if unsupported:
            # django-tenants' clone copies these too, in time that grows with every schema.
            logger.warning("base_schema_slow_clone", extra={"objects": unsupported[:5]})
            CloneSchema().clone_schema(base, self.schema_name, "NODATA")
            with connection.cursor() as cursor:
                cursor.execute(
                    f'INSERT INTO "{self.schema_name}".django_migrations (app, name, applied) '  # noqa: S608
                    f'SELECT app, name, applied FROM "{base}".django_migrations'
                )
        else:
            schema_clone.copy_schema(base, self.schema_name)
        # The copy carries the base's content types and permissions; a base that is behind
        # (or the slow clone, which carries neither) needs a real migration run.
        if unsupported or _pending_migrations(self.schema_name):
            call_command(
                "migrate_schemas",
                tenant=True,
                schema_name=self.schema_name,
                interactive=False,
                verbosity=verbosity,
            )
        connection.set_schema_to_public()
        return True

    def get_base_schema(self):
        if self.schema_name == settings.TENANT_BASE_SCHEMA:
            return False
        return super().get_base_schema()

    @property
    def portal_url(self) -> str:
        from .urls import organisation_base_url

        return organisation_base_url(self.slug)

    def delete(self, *args, **kwargs):
        from .cache import forget_hosts

        hosts = list(self.domains.values_list("domain", flat=True))
        with connection.cursor() as cursor:
            # Rows written earlier in this transaction must not hold up DROP SCHEMA.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        result = super().delete(*args, **kwargs)
        forget_hosts(hosts)
        return result


class Domain(DomainMixin):
    def clean(self):
        validate_domain(self.domain)

    def save(self, *args, **kwargs):
        validate_domain(self.domain)
        from .cache import forget_hosts

        if self.pk:
            previous = type(self).objects.filter(pk=self.pk).values_list("domain", flat=True)
            forget_hosts(list(previous))
        super().save(*args, **kwargs)
        forget_hosts([self.domain])

    def delete(self, *args, **kwargs):
        from .cache import forget_hosts

        result = super().delete(*args, **kwargs)
        forget_hosts([self.domain])
        return result


class WorkDue(models.Model):
    """Organisations with deliveries due: the sweep reads this, never every schema."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="work_due"
    )
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "work due"

    def __str__(self):
        return f"{self.organisation_id} due {self.due_at:%Y-%m-%d %H:%M:%S}"
