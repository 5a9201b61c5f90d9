"""`exposure-lab data patches data=<name> sizes=[128,256,512]`: cut training patches offline."""

import hydra
from omegaconf import DictConfig

from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.data.patches import extract_from_config
from exposure_lab.runs import register_resolvers


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="extract_patches")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    out_dir, summary = extract_from_config(cfg)
    print(summary)
    print(out_dir)


register_resolvers()

if __name__ == "__main__":
    main()
