"""Serving certificates for the webhook server, in one of three modes (chart value `webhook.certificates.mode`):

- `self` (default): the manager keeps a CA and a serving certificate in a Secret of its namespace, renews
  them before they expire, and patches only the caBundle fields of our webhook configurations and of the
  StatefulSet CRD's conversion. Replicas starting at once converge on one Secret: creation races end in
  409 and a re-read, updates carry the resourceVersion.
- `cert-manager`: cert-manager writes the Secret (tls.crt, tls.key, ca.crt) and its CA injector writes the
  caBundles (`cert-manager.io/inject-ca-from`); the manager only reads the Secret.
- `secret`: a Secret the user provides (tls.crt, tls.key, ca.crt); the manager reads it and patches caBundles.

No request fails while certificates rotate: a renewed serving certificate is signed by the same CA, so the
caBundle does not change. When the CA itself is replaced, the caBundle first carries both CAs
(`ca-previous.crt`), and a server switches to a certificate of the new CA only once the API server has been
given a caBundle that trusts it.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import logging
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controllers.settings import ENVIRONMENT, WebhookSettings
from kube import ApiError, KubeClient, resource_path

log = logging.getLogger(__name__)

MODES = ("self", "cert-manager", "secret")


@dataclass(frozen=True)
class CertBundle:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    previous_ca_pem: bytes = b""

    @property
    def ca_bundle(self) -> bytes:
        """What the API server must trust: the current CA, and the previous one while it is phased out."""
        return self.ca_pem + (self.previous_ca_pem if self.previous_ca_pem and self.previous_ca_pem != self.ca_pem else b"")


@dataclass
class CertSettings:
    """The manager fills every field from `ManagerSettings`; the defaults are its defaults, not restated."""

    mode: str = WebhookSettings.cert_mode
    namespace: str = ENVIRONMENT["POD_NAMESPACE"]
    secret_name: str = ENVIRONMENT["SECRET_NAME"]
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    ca_validity: datetime.timedelta = datetime.timedelta(days=3650)  # the CA outlives many serving certificates
    cert_validity: datetime.timedelta = WebhookSettings.cert_validity
    renew_before: datetime.timedelta = WebhookSettings.cert_renew_before


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def new_ca(validity: datetime.timedelta) -> tuple[bytes, bytes]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ack-kruise-webhook-ca@{int(_now().timestamp())}"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, str(x509.random_serial_number()))])
    start = _now() - datetime.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def new_serving_cert(ca_pem: bytes, ca_key_pem: bytes, dns_names: list[str], ips: list[str],
                     validity: datetime.timedelta) -> tuple[bytes, bytes]:
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = _key()
    start = _now() - datetime.timedelta(minutes=5)
    not_after = min(_now() + validity, ca.not_valid_after_utc)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0] if dns_names else "webhook")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def needs_renewal(bundle: CertBundle, ca_key_pem: bytes | None, settings: CertSettings) -> str:
    """Why the Secret's certificates cannot be used as they are ('' when they can)."""
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_pem)
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        key = serialization.load_pem_private_key(bundle.key_pem, password=None)
    except ValueError as e:
        return f"unreadable certificate data: {e}"
    deadline = _now() + settings.renew_before
    if ca.not_valid_after_utc <= deadline:
        return "the CA expires soon"
    if cert.not_valid_after_utc <= deadline:
        return "the serving certificate expires soon"
    if cert.not_valid_after_utc > _now() + settings.cert_validity + datetime.timedelta(minutes=1):
        return "the serving certificate outlives the configured validity"
    if not _issued_by(cert, ca):
        return "the serving certificate is not signed by the CA"
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        return "the key does not match the serving certificate"
    try:
        names = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
        ips = {str(i) for i in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        return "the serving certificate has no subject alternative names"
    if not set(settings.dns_names) <= names or not set(settings.ip_addresses) <= ips:
        return "the serving certificate does not cover every webhook address"
    return ""


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def trusted_by(cert_pem: bytes, bundle_pem: bytes) -> bool:
    """Whether a CA of `bundle_pem` signed `cert_pem` (checked by signature, not by name)."""
    if not bundle_pem.strip():
        return False
    cert = x509.load_pem_x509_certificate(cert_pem)
    return any(_issued_by(cert, ca) for ca in x509.load_pem_x509_certificates(bundle_pem))


class CertificateStore:
    """Reads, and in `self` mode maintains, the Secret holding the webhook certificates."""

    def __init__(self, client: KubeClient, settings: CertSettings):
        if settings.mode not in MODES:
            raise ValueError(f"certificate mode must be one of {', '.join(MODES)}, got {settings.mode!r}")
        self.client, self.s = client, settings
        self.path = resource_path("v1", "secrets", settings.namespace)

    @property
    def manages_ca_bundles(self) -> bool:
        return self.s.mode in ("self", "secret")

    async def _read(self) -> dict | None:
        return await self.client.get_or_none(f"{self.path}/{self.s.secret_name}")

    @staticmethod
    def _decode(secret: dict) -> dict[str, bytes]:
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    async def ensure(self) -> CertBundle:
        """A usable bundle, generating or renewing it first in `self` mode."""
        for _ in range(5):
            secret = await self._read()
            data = self._decode(secret) if secret else {}
            bundle = CertBundle(data.get("ca.crt", b""), data.get("tls.crt", b""), data.get("tls.key", b""),
                                data.get("ca-previous.crt", b""))
            if self.s.mode != "self":
                if not secret:
                    raise RuntimeError(f"Secret {self.s.namespace}/{self.s.secret_name} does not exist yet "
                                       f"(certificate mode {self.s.mode!r})")
                # Someone else renews these: only refuse what cannot be served at all.
                problem = needs_renewal(bundle, None, CertSettings(renew_before=datetime.timedelta(0),
                                                                    cert_validity=datetime.timedelta(days=36500)))
                if problem and problem != "the serving certificate does not cover every webhook address":
                    raise RuntimeError(f"Secret {self.s.namespace}/{self.s.secret_name}: {problem}")
                return bundle
            problem = needs_renewal(bundle, data.get("ca.key"), self.s) if secret else "no Secret yet"
            if not problem:
                return bundle
            log.info("webhook certificates: %s; generating", problem)
            bundle_new, ca_key = self._renew(bundle, data.get("ca.key"), problem)
            body_data = {"ca.crt": bundle_new.ca_pem, "ca.key": ca_key, "tls.crt": bundle_new.cert_pem,
                         "tls.key": bundle_new.key_pem}
            if bundle_new.previous_ca_pem:
                body_data["ca-previous.crt"] = bundle_new.previous_ca_pem
            encoded = {k: base64.b64encode(v).decode() for k, v in body_data.items()}
            try:
                if secret is None:
                    await self.client.create(self.path, {
                        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": self.s.secret_name, "namespace": self.s.namespace,
                                     "labels": {"app.kubernetes.io/managed-by": "kruise-manager"}},
                        "data": encoded})
                else:
                    secret["data"] = encoded
                    await self.client.replace(f"{self.path}/{self.s.secret_name}", secret)
                return bundle_new
            except ApiError as e:
                if e.conflict:
                    continue  # another replica got there first: use what it wrote
                raise
        raise RuntimeError("could not converge on one webhook certificate after 5 attempts")

    def _renew(self, bundle: CertBundle, ca_key: bytes | None, problem: str) -> tuple[CertBundle, bytes]:
        keep_ca = bool(bundle.ca_pem and ca_key) and problem in (
            "the serving certificate expires soon", "the serving certificate outlives the configured validity", "the serving certificate does not cover every webhook address",
            "the serving certificate is not signed by the CA", "the key does not match the serving certificate")
        if keep_ca:
            try:
                x509.load_pem_x509_certificate(bundle.ca_pem)
            except ValueError:
                keep_ca = False
        if keep_ca:
            ca_pem, ca_key_pem, previous = bundle.ca_pem, ca_key, bundle.previous_ca_pem
        else:
            ca_pem, ca_key_pem = new_ca(self.s.ca_validity)
            previous = bundle.ca_pem if _valid_ca(bundle.ca_pem) else b""
        cert_pem, key_pem = new_serving_cert(ca_pem, ca_key_pem, self.s.dns_names, self.s.ip_addresses,
                                             self.s.cert_validity)
        return CertBundle(ca_pem, cert_pem, key_pem, previous), ca_key_pem


def _valid_ca(pem: bytes) -> bool:
    try:
        return bool(pem) and x509.load_pem_x509_certificate(pem).not_valid_after_utc > _now()
    except ValueError:
        return False
