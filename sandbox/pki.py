"""Key material for the sandbox's API server: a service-account signing key and an admin token."""
from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_service_account_keys(directory: Path) -> tuple[Path, Path]:
    """RSA key pair used to sign and verify service-account tokens (kube-apiserver and KCM)."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = directory / "sa.key", directory / "sa.pub"
    if not key_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        key_path.chmod(0o600)
        pub_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path


def write_admin_token(directory: Path) -> tuple[Path, str]:
    """A static token in group system:masters, the sandbox's only user (token-auth-file format)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tokens.csv"
    if path.exists():
        token = path.read_text().split(",", 1)[0]
    else:
        token = secrets.token_hex(16)
        path.write_text(f'{token},admin,admin,"system:masters"\n')
        path.chmod(0o600)
    return path, token
