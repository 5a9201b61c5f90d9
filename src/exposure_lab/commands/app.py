"""`exposure-lab app [ckpt_path=<ckpt>|model=<name>] [models=[...]] [port=7860] [assessor_ckpt=<ckpt>]
[samples=<dir>]`: a local web page to try models on an image."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.prediction.app_server import demo_app, make_server
from exposure_lab.runs import register_resolvers


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="app")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    specs = [str(spec) for spec in cfg.models or []]
    model = cfg.get("model")
    if model and "_target_" in model:
        specs.insert(0, HydraConfig.get().runtime.choices.model)
    elif model:
        raise ExposureLabError(
            "app sets a model's inference options on the page; drop the +model.<key> overrides"
        )
    if cfg.ckpt_path:
        specs.insert(0, str(cfg.ckpt_path))
    server = make_server(demo_app(cfg, specs), cfg.host, cfg.port)
    host, port = server.server_address[:2]
    print(f"serving {len(specs)} model(s) on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


register_resolvers()

if __name__ == "__main__":
    main()
