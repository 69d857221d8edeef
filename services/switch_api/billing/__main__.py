"""``python -m services.switch_api.billing``: run a billing worker."""

from services.switch_api.billing.worker import main

if __name__ == "__main__":
    main()
