namespace KvmSharp.Devices;

/// <summary>
/// One interrupt input of the platform's interrupt controllers, as a device sees it. The device drives
/// the line's level; whether the controller reacts to edges or levels is the controller's business.
/// </summary>
public interface IInterruptLine
{
    void SetLevel(bool high);
}
