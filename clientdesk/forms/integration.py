"""Rules for where documents go, shared by configuration templates (and a client's integration)."""
from flask_babel import gettext as _

from ..models import DeliveryMethod


def delivery_problems(settings, product) -> dict:
    """Errors keyed by field (`product` for the accounting software) for DeliverySettings-like `settings`."""
    method = settings.delivery_method or DeliveryMethod.MANUAL.value
    if product is None:
        if method != DeliveryMethod.MANUAL:
            return {"product": _("Choose the accounting software that receives the documents.")}
        return {}
    errors = {}
    if method not in product.delivery_method_list:
        accepted = ", ".join(_(DeliveryMethod(m).label) for m in product.delivery_method_list)
        errors["delivery_method"] = _("%(product)s accepts: %(methods)s.", product=product.name, methods=accepted)
    elif method == DeliveryMethod.EMAIL and not any(
            (settings.delivery_email, settings.delivery_email_purchase, settings.delivery_email_sales, settings.delivery_email_misc)):
        errors["delivery_email"] = _("E-mail delivery needs an address: one for every document, or one per document type.")
    elif method == DeliveryMethod.SFTP and not settings.sftp_url:
        errors["sftp_url"] = _("sFTP delivery needs the folder's address.")
    elif method == DeliveryMethod.API and not settings.api_url:
        errors["api_url"] = _("API delivery needs the API address.")
    return errors
