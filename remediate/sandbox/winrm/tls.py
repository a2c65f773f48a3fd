"""A throwaway certificate authority and a server certificate for the sandbox's HTTPS listeners.

Clients verify the server against the written CA certificate (cert_validation=<ca file>) instead of skipping
verification: the sandbox exercises the same TLS path as a production run. The same CA issues client
certificates for certificate authentication (the user's UPN in the subject alternative name, as Windows' WinRM
certificate mapping wants it).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

_VALIDITY = datetime.timedelta(days=2)
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft's user principal name (szOID_NT_PRINCIPAL_NAME)


@dataclass(frozen=True)
class TLSMaterial:
    """Where the CA certificate (for clients) and the server certificate and key (for the listener) live."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    ca_key_file: Path | None = None  # to issue client certificates

    def channel_binding(self) -> bytes:
        """The tls-server-end-point channel binding (RFC 5929) clients bind NTLM to over HTTPS."""
        certificate = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        return b"tls-server-end-point:" + certificate.fingerprint(hashes.SHA256())

    def server_context(self, client_certificates: bool = False) -> ssl.SSLContext:
        """client_certificates: ask clients for a certificate issued by this CA (certificate authentication)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if client_certificates:
            context.verify_mode = ssl.CERT_OPTIONAL  # a client without one is refused by the auth (HTTP 401)
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def issue_client_certificate(self, upn: str, directory: Path) -> tuple[Path, Path]:
        """A client certificate for the user `upn` (user@domain), signed by this CA: (certificate, key) files."""
        if self.ca_key_file is None:
            raise ValueError("this CA keeps no key to issue client certificates with")
        ca_key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        upn_value = b"\x0c" + bytes([len(upn.encode())]) + upn.encode()  # DER UTF8String (a short one)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(upn.partition("@")[0]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectAlternativeName([x509.OtherName(UPN_OID, upn_value)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        stem = directory / f"client-{upn.replace('@', '-at-')}"
        cert_file, key_file = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key_file, key)
        return cert_file, key_file


def certificate_upn(der: bytes) -> str | None:
    """The UPN in a client certificate's subject alternative name (None: it has none)."""
    certificate = x509.load_der_x509_certificate(der)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in names.get_values_for_type(x509.OtherName):
        if name.type_id == UPN_OID and name.value[:1] == b"\x0c" and len(name.value) >= 2:
            return name.value[2 : 2 + name.value[1]].decode("utf-8", errors="replace")
    return None


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "remediate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_tls_material(directory: Path, ca_file: Path | None = None) -> TLSMaterial:
    """Generate a CA and a server certificate for 127.0.0.1 and localhost; write them under `directory`.

    ca_file: where to write the CA certificate (default: directory/sandbox-ca.pem).
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)  # tolerate clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("remediate sandbox CA")
    ca_cert = _ca_certificate(ca_key, ca_name, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _server_certificate(server_key, ca_key, ca_name, now)

    material = TLSMaterial(
        ca_file=ca_file or directory / "sandbox-ca.pem",
        cert_file=directory / "sandbox-server.pem",
        key_file=directory / "sandbox-server.key",
        ca_key_file=directory / "sandbox-ca.key",
    )
    material.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(material.key_file, server_key)
    assert material.ca_key_file is not None
    _write_key(material.ca_key_file, ca_key)
    return material


def _ca_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, now: datetime.datetime
) -> x509.Certificate:
    """A self-signed CA that may sign server certificates and nothing below them."""
    return (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _server_certificate(
    server_key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    now: datetime.datetime,
) -> x509.Certificate:
    """The listeners' certificate, valid for localhost and 127.0.0.1, signed by the CA."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
