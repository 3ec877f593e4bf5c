from django.db import models


class Probe(models.Model):
    code = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(code="bad"), name="probe_code_not_bad")
        ]

    def __str__(self):
        return self.code
