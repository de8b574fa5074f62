"""Loss registry. Adding a loss: one file in this folder and one entry below."""
from disvae.losses.adatvae import AdaTVAELoss
from disvae.losses.betab import BetaBLoss
from disvae.losses.betah import BetaHLoss
from disvae.losses.btcvae import BtcvaeLoss
from disvae.losses.dipvae_i import DipVAEILoss
from disvae.losses.dipvae_ii import DipVAEIILoss
from disvae.losses.factor import FactorKLoss
from disvae.losses.terms import REC_DISTS
from disvae.losses.vae import VAELoss

LOSSES = ["VAE", "betaH", "betaB", "factor", "btcvae", "dipvaeI", "dipvaeII", "adatvae"]
# losses that estimate from the whole minibatch need at least this many examples per batch
# (FactorVAE splits it in two; beta-TCVAE's q(z) estimate weighs the other B - 1 examples;
# DIP-VAE estimates a covariance over the batch)
MIN_BATCH = {"factor": 2, "btcvae": 2, "dipvaeI": 2, "dipvaeII": 2}


def get_loss_f(name, args, n_data):
    """Build loss `name` from the parsed CLI/ini parameters `args` (a Namespace)."""
    common = dict(rec_dist=args.rec_dist, steps_anneal=args.reg_anneal)
    if name == "VAE":
        return VAELoss(**common)
    if name == "betaH":
        return BetaHLoss(beta=args.betaH_B, **common)
    if name == "betaB":
        return BetaBLoss(C_init=args.betaB_initC, C_fin=args.betaB_finC, gamma=args.betaB_G, **common)
    if name == "factor":
        return FactorKLoss(args.latent_dim, gamma=args.factor_G, lr_disc=args.lr_disc, **common)
    if name == "btcvae":
        return BtcvaeLoss(n_data, alpha=args.btcvae_A, beta=args.btcvae_B, gamma=args.btcvae_G,
                          estimator=args.btcvae_estimator, **common)
    if name == "dipvaeI":
        return DipVAEILoss(lambda_od=args.dipvaeI_lambda_od, lambda_d_factor=args.dipvaeI_lambda_d_factor, **common)
    if name == "dipvaeII":
        return DipVAEIILoss(lambda_od=args.dipvaeII_lambda_od, lambda_d_factor=args.dipvaeII_lambda_d_factor,
                            **common)
    if name == "adatvae":
        return AdaTVAELoss(
            beta=args.adatvae_beta, triplet_margin=args.adatvae_margin, triplet_p=args.adatvae_p,
            triplet_scale=args.adatvae_scale, triplet_loss=args.adatvae_triplet_loss,
            thresh_mode=args.adatvae_thresh_mode, thresh_ratio=args.adatvae_thresh_ratio,
            share_scale=args.adatvae_share_scale, schedule=args.adatvae_schedule,
            unsupervised=args.adatvae_unsupervised, **common)
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


__all__ = ["LOSSES", "REC_DISTS", "get_loss_f"]
