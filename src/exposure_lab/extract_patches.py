"""`exposure-lab data patches data=<name> sizes=[128,256,512]`: cut training patches offline."""

import hydra
from omegaconf import DictConfig

from exposure_lab.config import config_dir, register_resolvers
from exposure_lab.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="extract_patches")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from exposure_lab.data.patches import extract_main

    print(extract_main(cfg))


register_resolvers()

if __name__ == "__main__":
    main()
