"""InfoPattern: stance detection, red teaming with LM-Switch, claim-propagation graphs."""
