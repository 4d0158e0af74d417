"""The training loop: data, model, optimisation, checkpoints, progress, and the end-of-run
evaluation and sample."""
import hashlib
import json
import math
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import torch

from ..models import RDMConfig, RDMForCausalLM, sample_loop_count
from . import checkpoint, distributed, rng
from .config import TrainConfig
from .data import BatchSchedule, eval_batches, load_rows, split_held_out
from .evaluate import depth_curve, write_depth_curve
from .optim import build_optimizer, build_scheduler
from .progress import MetricsLog, Progress, expert_imbalance
from .tokenizer import load_tokenizer


def loops_for_step(config: RDMConfig, step: int) -> int:
    """The depth of optimizer step ``step``: sampled from (seed, step) alone, so it is the same
    for every micro-batch and on every rank without communication, and again after a resume."""
    if not config.sample_loops:
        return config.n_loops
    return sample_loop_count(config.n_loops, config.loop_sampling_sigma, config.max_loops, step,
                             config.loop_sampling_seed)


def parameter_digest(model_state: dict) -> str:
    """SHA-256 of a state dict's tensors in key order: equal digests mean identical replicas."""
    digest = hashlib.sha256()
    for key in sorted(model_state):
        digest.update(key.encode())
        digest.update(model_state[key].detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.env = distributed.setup(config.dist, config.device)
        self.out = Path(config.out)
        self.checkpoints = self.out / "checkpoints"
        if self.env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            checkpoint.remove_stale_temporaries(self.checkpoints)
        distributed.barrier(self.env)

        self.tokenizer = load_tokenizer(config.tokenizer)
        rows = load_rows(config.data, self.tokenizer, config.seq_len, config.corpus_bytes)
        self.train_rows, self.held_out_rows = split_held_out(rows, config.held_out_fraction)
        self.schedule = BatchSchedule(self.train_rows, config.batch_size, config.grad_accum,
                                      self.env.world_size, config.seed)

        rng.seed_everything(config.seed)
        self.model_config = config.model_config(self.tokenizer.vocab_size)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        elif self.env.device.type == "cpu" and self.model_config.d_model <= 256:
            torch.set_num_threads(1)
        model = RDMForCausalLM(self.model_config).to(self.env.device)
        # Router biases move once per optimizer step, from the expert load summed over the
        # micro-batches and ranks, so that every rank keeps the same biases.
        model.auto_update_router_biases = False
        model.gradient_checkpointing_enable(config.gradient_checkpointing)
        self.model = distributed.wrap(model, self.env)
        self.raw_model = distributed.unwrap(self.model)
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        use_bf16 = config.precision == "bf16" or (config.precision == "auto" and self.env.device.type == "cuda")
        self.autocast = partial(torch.autocast, self.env.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext
        self.step = 0

    # -- checkpoints -------------------------------------------------------------------

    def save(self) -> None:
        model_state, optimizer_state = distributed.full_state(self.model, self.optimizer)
        rng_states = distributed.all_gather_objects(rng.capture(), self.env)
        if self.env.is_main:
            payload = {
                "step": self.step,
                "data": {"rows_consumed": self.step * self.schedule.global_batch,
                         "train_rows": len(self.train_rows), "global_batch": self.schedule.global_batch},
                "model": model_state,
                "optimizer": optimizer_state,
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_states,
                "train_config": self.config.to_dict(),
                "model_config": self.model_config.to_dict(),
            }
            checkpoint.save_checkpoint(self.checkpoints, self.step, payload, self.config.keep_last)
        distributed.barrier(self.env)

    def resume(self) -> int | None:
        """Loads the newest checkpoint; returns its step (None when there is none)."""
        path = checkpoint.latest_checkpoint(self.checkpoints)
        if path is None:
            return None
        state = checkpoint.load_checkpoint(path)
        if state["model_config"] != self.model_config.to_dict():
            raise ValueError(f"{path} was written for another model config; use another --out or drop --resume")
        if state["data"]["train_rows"] != len(self.train_rows):
            raise ValueError(f"{path} was trained on {state['data']['train_rows']} rows of data, this run reads "
                             f"{len(self.train_rows)}: resume with the same --data, --seq-len and tokenizer")
        if state["data"]["global_batch"] != self.schedule.global_batch:
            raise ValueError(f"{path} was trained with a global batch of {state['data']['global_batch']} rows, "
                             f"this run has {self.schedule.global_batch}: the data order would differ")
        distributed.load_full_state(self.model, self.optimizer, state["model"], state["optimizer"])
        # The schedule's shape follows this run's settings (more --steps extend a run), so the
        # saved multiplier function is not restored, only the position on it.
        self.scheduler.load_state_dict({**state["scheduler"], "lr_lambdas": [None] * len(self.scheduler.lr_lambdas)})
        for group, base_lr, multiplier in zip(self.optimizer.param_groups, self.scheduler.base_lrs,
                                              self.scheduler.lr_lambdas):
            group["lr"] = base_lr * multiplier(self.scheduler.last_epoch)
        rng_states = state["rng"]
        rng.restore(rng_states[self.env.rank] if self.env.rank < len(rng_states) else rng_states[0])
        self.step = state["step"]
        return self.step

    # -- one optimizer step ------------------------------------------------------------

    def train_step(self) -> dict:
        config, env = self.config, self.env
        n_loops = loops_for_step(self.model_config, self.step)
        batches = [self.schedule.batch(self.step, micro, env.rank) for micro in range(config.grad_accum)]
        # The loss is the mean over every target token of the global batch: each micro-batch's
        # mean is weighted by its share of the global target count (× world size, because
        # DDP and FSDP average the gradients over the ranks).
        local_targets = torch.tensor(float(sum(batch.num_targets for batch in batches)), device=env.device)
        global_targets = distributed.all_reduce_sum(local_targets, env).item()
        ponder_weight = self.model_config.ponder_weight if self.model_config.halting == "act" else 0.0
        # Σ lm loss · targets, Σ ponder cost, Σ loops per token: kept on the device, so the
        # micro-batches do not wait for each other's results.
        sums = torch.zeros(3, dtype=torch.float64, device=env.device)
        expert_load = None
        self.model.train()
        for micro, batch in enumerate(batches):
            batch = batch.to(env.device)
            last = micro == len(batches) - 1
            sync = self.model.no_sync() if env.mode == "ddp" and not last else nullcontext()
            with sync:
                with self.autocast():
                    out = self.model(batch.input_ids, labels=batch.input_ids, n_loops=n_loops,
                                     cu_seqlens=batch.cu_seqlens)
                loss = out.lm_loss * (batch.num_targets * env.world_size / global_targets)
                if out.ponder_cost is not None:
                    loss = loss + ponder_weight * out.ponder_cost / len(batches)
                loss.backward()
            ponder = out.lm_loss.new_zeros(()) if out.ponder_cost is None else out.ponder_cost
            sums += torch.stack([out.lm_loss * batch.num_targets, ponder, out.loops_per_token]).detach().double()
            if out.expert_load is not None:
                load = out.expert_load.detach().to(torch.int64)
                expert_load = load if expert_load is None else expert_load + load

        sums = distributed.all_reduce_sum(sums, env).cpu()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if expert_load is not None:
            expert_load = distributed.all_reduce_sum(expert_load, env)
            self.raw_model.update_router_biases(expert_load)
        self.step += 1

        micro_batches = len(batches) * env.world_size
        lm_loss = sums[0].item() / global_targets
        ponder = sums[1].item() / micro_batches
        return {
            "step": self.step,
            "loss": lm_loss + ponder_weight * ponder,
            "lm_loss": lm_loss,
            "ponder_cost": ponder,
            "lr": lr,
            "grad_norm": float(grad_norm),
            "n_loops": n_loops,
            "mean_loops": sums[2].item() / micro_batches,
            "expert_imbalance": expert_imbalance(expert_load),
            "tokens": self.step * self.schedule.global_batch * config.seq_len,
            "epoch": self.schedule.epoch(self.step),
        }

    # -- the run -----------------------------------------------------------------------

    def fit(self) -> dict:
        config, env = self.config, self.env
        resumed = self.resume() if config.resume else None
        if env.is_main:
            (self.out / "config.json").write_text(json.dumps(
                {"train": config.to_dict(), "model": self.model_config.to_dict()}, indent=2) + "\n")
            print(self.raw_model.architecture_summary() if env.mode != "fsdp" else
                  f"RDMForCausalLM ({config.preset}), FSDP over {env.world_size} ranks")
            print(f"data: {len(self.train_rows)} training rows, {len(self.held_out_rows)} held out, "
                  f"{config.seq_len} tokens each ({self.tokenizer.name} tokenizer); global batch "
                  f"{self.schedule.global_batch} rows; device {env.device}, dist {env.mode} × {env.world_size}")
            if config.resume:
                print(f"resumed at step {resumed}" if resumed is not None else "no checkpoint to resume: starting")
        metrics = MetricsLog(self.out / "metrics.jsonl", resumed) if env.is_main else None
        progress = Progress(config.steps, config.log_every, enabled=env.is_main)
        tokens_per_step = self.schedule.global_batch * config.seq_len
        start = time.perf_counter()
        record = None
        while self.step < config.steps:
            record = self.train_step()
            rate = progress.update(self.step - 1, tokens_per_step, record)
            if rate is not None:
                record["tokens_per_s"] = rate
            if not math.isfinite(record["loss"]):
                raise FloatingPointError(f"loss is {record['loss']} at step {self.step}")
            if metrics is not None:
                metrics.write(record)
            if config.save_every and (self.step % config.save_every == 0 or self.step == config.steps):
                self.save()
        return self.finish(record, time.perf_counter() - start)

    def finish(self, record: dict | None, seconds: float) -> dict:
        """Checks the replicas agree, then on the main rank: the depth curve, the sample, the
        final weights and summary.json."""
        env, config = self.env, self.config
        model_state, _ = distributed.full_state(self.model, self.optimizer)
        digests = distributed.all_gather_objects(parameter_digest(model_state), env)
        summary = {"steps": self.step, "seconds": seconds, "final": record, "rank_parameter_digests": digests}
        if env.is_main:
            if len(set(digests)) != 1:
                print(f"WARNING: the ranks' parameters differ: {digests}")
            # Evaluate an unsharded copy, so that FSDP runs need no collective here.
            model = RDMForCausalLM(self.model_config).to(env.device)
            model.load_state_dict(model_state)
            summary.update(self.evaluate_and_sample(model))
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        distributed.barrier(env)
        distributed.teardown(env)
        return summary

    def evaluate_and_sample(self, model: RDMForCausalLM) -> dict:
        config, env = self.config, self.env
        batches = eval_batches(self.held_out_rows, config.batch_size, config.eval_rows)
        curve = depth_curve(model, batches, config.eval_loops, env.device, self.autocast)
        title = f"rdm {config.preset}: held-out loss vs loops ({self.step} steps)"
        messages = write_depth_curve(curve, self.out, self.model_config.n_loops, self.model_config.max_loops, title)
        print((self.out / "depth_curve.md").read_text(), end="")
        for message in messages:
            print(message)

        prompt = torch.tensor([self.tokenizer.encode(config.sample_prompt) or [0]], device=env.device)
        generator = torch.Generator(device=env.device).manual_seed(config.seed)
        with self.autocast():
            tokens = model.eval().generate(prompt, config.sample_tokens, temperature=0.8, top_p=0.95,
                                           generator=generator)
        sample = self.tokenizer.decode(tokens[0].tolist())
        (self.out / "sample.txt").write_text(sample + "\n")
        print(f"sample ({self.model_config.n_loops} loops):\n{sample}")
        try:
            model.save_pretrained(self.out / "model")
        except ImportError:
            print("safetensors is not installed: skipped model/ (the checkpoints hold the weights)")
        return {"depth_curve": curve, "sample": sample}


def train(config: TrainConfig) -> dict:
    """Runs ``config`` to the end; returns the summary (also written to ``<out>/summary.json``)."""
    return Trainer(config).fit()
