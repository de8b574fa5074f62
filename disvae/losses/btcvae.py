"""beta-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

The KL term is decomposed with z ~ q(z|x) and q(z) estimated on the minibatch:

    E[KL(q(z|x) || p(z))] = alpha * I(x; z)          mi_loss   = E[log q(z|x) - log q(z)]
                          + beta  * TC(z)            tc_loss   = E[log q(z) - log prod_j q(z_j)]
                          + gamma * sum_j KL(q(z_j) || p(z_j))   dw_kl_loss = E[log prod_j q(z_j) - log p(z)]

    L = E_q[-log p(x|z)] + alpha * mi_loss + beta * tc_loss + anneal * gamma * dw_kl_loss

q(z) is estimated by minibatch stratified sampling ("mss", default) or minibatch
weighted sampling ("mws"), chosen with --btcvae-estimator; see terms.log_q_decomposition.
"""
from disvae.losses.base import BaseLoss
from disvae.losses.terms import log_q_decomposition
from disvae.options import Option

ESTIMATORS = ("mss", "mws")


class BtcvaeLoss(BaseLoss):
    name = "btcvae"
    label = "β-TCVAE"
    title = "beta-tcvae specific parameters"
    options = {
        "alpha": Option("btcvae_A", 1.0, "Weight of the MI term (alpha in the paper).", float),
        "gamma": Option("btcvae_G", 1.0, "Weight of the dim-wise KL term (gamma in the paper).", float),
        "beta": Option("btcvae_B", 6.0, "Weight of the TC term (beta in the paper).", float),
        "estimator": Option("btcvae_estimator", "mss", "Estimator of q(z): minibatch stratified or weighted "
                            "sampling.", choices=ESTIMATORS),
    }
    context = ("n_data",)
    min_batch = 2  # q(z) is estimated from the other B - 1 examples

    def __init__(self, n_data, alpha, beta, gamma, estimator, **kwargs):
        super().__init__(**kwargs)
        self.n_data = n_data
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.estimator = estimator

    def compute(self, model, x):
        rec, kl_per_dim, (mean, logvar), z = self.vae_terms(model, x)
        log_pz, log_qz, log_prod_qzi, log_q_z_given_x = log_q_decomposition(
            z, mean, logvar, self.n_data, self.estimator)
        mi_loss = (log_q_z_given_x - log_qz).mean()
        tc_loss = (log_qz - log_prod_qzi).mean()
        dw_kl_loss = (log_prod_qzi - log_pz).mean()
        loss = rec + self.alpha * mi_loss + self.beta * tc_loss + self.anneal_weight() * self.gamma * dw_kl_loss
        logs = self.base_logs(loss, rec, kl_per_dim)
        logs.update(mi_loss=mi_loss.detach(), tc_loss=tc_loss.detach(), dw_kl_loss=dw_kl_loss.detach())
        return loss, logs
