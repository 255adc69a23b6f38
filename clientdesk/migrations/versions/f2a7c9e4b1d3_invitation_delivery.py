"""invitation: derived links (nonce) and the delivery state of its e-mail (attempts, retry time)

Existing invitations keep nonce NULL: their token was random and only its hash is stored, so no nonce can be
chosen that derives the same token again. Such an invitation is never e-mailed again as it is: when it needs
re-sending, the client gets a new invitation (and the old link is voided), as before.

Revision ID: f2a7c9e4b1d3
Revises: f1a2b3c4d5e6
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'f2a7c9e4b1d3'
down_revision = "f1a2b3c4d5e6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonce', sa.String(length=43), nullable=True))
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('first_failed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_invitation_retry_at', ['retry_at'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_retry_at')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('first_failed_at')
        batch_op.drop_column('failed_attempts')
        batch_op.drop_column('nonce')
